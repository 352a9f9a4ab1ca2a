"""The retailer's commands on its submitted ads: change the content (PATCH), pause, resume,
withdraw. Each is a new version of the ad, audited, projected, and accepted in the configured
intake mode as a submission is (docs/ad-states.md has the states and the decisions):

- sync:   apply, judge a change, project, all in the request;
- cqrs:   apply in the request with an outbox row (the consumer judges a change), 202;
- direct: check on the request path, publish first, the consumer applies and judges; 202.
  Commands of one ad go one at a time: a lock in Redis, taken before the publish and dropped
  by the consumer once it stored the command, so the request path always checks a stored
  state, and the consumer applies a change only to the version it was made on. Each is
  journaled (ads_write/journal.py) until stored, and replayed if its message was lost."""

import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from adplatform.kernel.auth import Caller
from adplatform.kernel.broker import publish_task
from adplatform.kernel.bulk import chunked
from adplatform.kernel.events import PROJECT_ADS_TASK, PROJECTION_MESSAGE_SIZE, Event
from adplatform.kernel.redis_client import execute_best_effort, redis_client
from adplatform.kernel.redis_client import pipeline as redis_pipeline
from adplatform.problems import Problem, broker_unavailable, problem
from audit.models import AuditEntry
from audit.services import AuditRecord, audit_record_many

from ..fields import FIELDS_BY_NAME
from ..journal import COMMANDS_JOURNAL
from ..models import Ad, AdChange, AdStatus, ApprovalProposal, ReviewClaim
from ..validation.basic import validate_basic
from .changes import changes_judge, content_data, content_diff, pending_change
from .outbox import outbox_add, outbox_publish

logger = logging.getLogger(__name__)

COMMANDS_TASK = "ads_write.tasks.process_commands_task"
ACTIONS = ("change", "pause", "resume", "withdraw")
# What each command is called in events, the audit log and `Ad.action`.
_EVENT_TYPE = {
    "change": "ad.change_requested",
    "pause": "ad.paused",
    "resume": "ad.resumed",
    "withdraw": "ad.withdrawn",
}
_ACTION = {"change": "", "pause": "paused", "resume": "resumed", "withdraw": "withdrawn"}
# Direct mode: how long a command's lock keeps the ad's next command off if its consumer
# never drops it (a lost message); the next command then finds the stored state.
LOCK_SECONDS = 60
_LOCK_KEY = "ad-command:{}"
# Drops a lock only if it is still this command's.
_UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@dataclass(frozen=True)
class CommandResult:
    id: uuid.UUID
    version: int
    status: str
    paused: bool
    change: dict | None = None
    applied: bool = True  # False: nothing to do (pausing a paused ad)
    extra: dict = field(default_factory=dict)


def ad_change(*, caller: Caller, ad_id, patch: dict, if_match: int, mode: str | None = None) -> CommandResult:
    """Accept a change of the ad's content: the fields of `patch` (None removes an optional
    one) over its current content, checked by basic validation as a new ad is. Raises the
    problems of a refused change (404, 409, 412, 400)."""
    return _run(caller=caller, action="change", ad_ids=[ad_id], if_match=if_match, patch=patch, mode=mode)[0]


def ads_command(
    *,
    caller: Caller,
    action: str,
    ad_ids: list,
    if_match: int | None = None,
    mode: str | None = None,
    batch: bool = False,
) -> list[CommandResult | Problem]:
    """Pause, resume or withdraw the given ads (`if_match`: only at that version). Returns a
    result per id, in order; a refusal raises its problem, or with `batch` is that id's result."""
    return _run(caller=caller, action=action, ad_ids=ad_ids, if_match=if_match, mode=mode, batch=batch)


def _run(*, caller, action, ad_ids, if_match, mode, patch=None, batch=False) -> list:
    mode = mode or settings.AD_INTAKE_MODE
    ids = list(dict.fromkeys(ad_ids))
    if mode == "direct":
        results = _direct(caller=caller, action=action, ids=ids, if_match=if_match, patch=patch, batch=batch)
    else:
        with transaction.atomic():
            ads = Ad.objects.select_for_update().filter(retailer=caller.retailer, id__in=ids).order_by("id")
            ads = {ad.id: ad for ad in ads}
            results, records, changed = {}, [], []
            for ad_id in ids:
                try:
                    event = _command_event(
                        caller=caller, action=action, ad=ads.get(ad_id), if_match=if_match, patch=patch
                    )
                    result, record = _apply(ads[ad_id], event)
                except Problem as refused:
                    if not batch:
                        raise
                    results[ad_id] = refused
                    continue
                results[ad_id] = result
                if record:
                    records.append(record)
                    changed.append(ad_id)
            audit_record_many(records=records)
            if changed and mode == "cqrs":
                task = COMMANDS_TASK if action == "change" else PROJECT_ADS_TASK
                outbox_ids = [
                    outbox_add(task_name=task, payload=chunk)
                    for chunk in chunked([str(i) for i in changed], PROJECTION_MESSAGE_SIZE)
                ]
                transaction.on_commit(lambda: outbox_publish(ids=outbox_ids), robust=True)
        if changed and mode == "sync":
            from ads_read.projections import ads_project

            changes_judge(ad_ids=changed)
            ads_project(ad_ids=changed)
    return [results[ad_id] for ad_id in ids]


def _command_event(*, caller, action, ad: Ad | None, if_match, patch) -> Event:
    """The command's event on the ad as stored (checked: raises the refusal's problem)."""
    if ad is None:
        raise problem("not-found", detail="No ad with this id for your account.")
    if if_match is not None and if_match != ad.version:
        raise problem(
            "precondition-failed",
            detail=f"The ad is at version {ad.version}, not {if_match}: read it again, then decide.",
            current_version=ad.version,
        )
    _refuse_if_not_allowed(ad, action)
    data = {"actor": caller.actor, "base_version": ad.version}
    if action == "change":
        data["fields"] = _changed_fields(ad, patch)
    return Event(
        type=_EVENT_TYPE[action], ad_id=str(ad.id), retailer_id=str(ad.retailer_id), version=ad.version + 1, data=data
    )


def _refuse_if_not_allowed(ad: Ad, action: str) -> None:
    if ad.status == AdStatus.WITHDRAWN:
        raise problem("ad-not-changeable", detail="The ad is withdrawn: that is final, it cannot change again.")
    if ad.status == AdStatus.PENDING and action != "withdraw":
        raise problem(
            "ad-not-changeable",
            detail="The ad still waits for its first judgement: change, pause or resume it once it is judged "
            "(it can be withdrawn now).",
        )


def _changed_fields(ad: Ad, patch: dict) -> dict:
    """The fields the change sets, against the ad's judged content (event data). Basic
    validation checks the whole content the change makes, as for a new ad."""
    current = content_data(ad, pending_change(ad.id))
    # What the platform records (status, version, …) is not the retailer's to change (fields.py).
    fixed = [name for name in patch if name in FIELDS_BY_NAME and not FIELDS_BY_NAME[name].editable]
    merged = {**current, **{k: v for k, v in patch.items() if k not in fixed}}
    result = validate_basic({k: v for k, v in merged.items() if v is not None})
    errors = [e.as_dict() for e in result.errors] + [
        {"field": name, "code": "BASIC.NOT_EDITABLE", "message": f"'{name}' cannot be changed."} for name in fixed
    ]
    if errors:
        raise problem("validation-error", detail=f"{len(errors)} field error(s); nothing was changed.", errors=errors)
    from .events import ad_event_data

    after = ad_event_data(result.ad)
    if not content_diff(before=current, after=after)[1]:
        raise problem(
            "validation-error",
            detail="The change changes nothing.",
            errors=[{"field": "", "code": "BASIC.NO_CHANGE", "message": "Send at least one field with a new value."}],
        )
    return content_diff(before=content_data(ad), after=after)[1]


def _apply(ad: Ad, event: Event) -> tuple[CommandResult, AuditRecord | None]:
    """Apply a checked command to the locked ad. Returns its result and audit record (None:
    nothing to do)."""
    action = next(a for a, t in _EVENT_TYPE.items() if t == event.type)
    now = timezone.now()
    if _nothing_to_do(ad, action):
        return _result(ad, applied=False), None
    change = None
    data = {"version": ad.version + 1, "base_version": event.data["base_version"]}
    if action in ("change", "withdraw"):
        AdChange.objects.filter(ad=ad, status=AdChange.Status.PENDING).update(status=AdChange.Status.SUPERSEDED)
    if action == "change":
        before = {name: content_data(ad).get(name) for name in event.data["fields"]}
        change = AdChange.objects.create(
            ad=ad,
            event_id=event.event_id,
            base_version=event.data["base_version"],
            version=ad.version + 1,
            fields=event.data["fields"],
            before=before,
            actor=event.data["actor"],
            submitted_at=now,
        )
        data.update(before=before, after=event.data["fields"])
    elif action in ("pause", "resume"):
        ad.paused = action == "pause"
    else:
        data["previous_status"] = ad.withdrawn_from = ad.status
        ad.status, ad.withdrawn_at, ad.paused = AdStatus.WITHDRAWN, now, False
        # Out of the review queue: nobody reviews or confirms a withdrawn ad.
        ReviewClaim.objects.filter(ad=ad).delete()
        ApprovalProposal.objects.filter(ad=ad).delete()
    ad.version += 1
    ad.action, ad.action_version, ad.command_at = _ACTION[action], ad.version, now
    ad.save(
        update_fields=[
            "status",
            "version",
            "paused",
            "withdrawn_at",
            "withdrawn_from",
            "action",
            "action_version",
            "command_at",
        ]
    )
    record = AuditRecord(
        event_id=uuid.UUID(event.event_id),
        action=event.type,
        actor=event.data["actor"],
        ad_id=ad.id,
        retailer_id=ad.retailer_id,
        data=data,
        occurred_at=now,
    )
    return _result(ad, change=change), record


def _nothing_to_do(ad: Ad, action: str) -> bool:
    # Pausing a paused ad, resuming a running one: no new version, nothing to audit.
    return (action == "pause" and ad.paused) or (action == "resume" and not ad.paused)


def _result(ad: Ad, *, change: AdChange | None = None, applied: bool = True) -> CommandResult:
    return CommandResult(
        id=ad.id,
        version=ad.version,
        status=ad.status,
        paused=ad.paused,
        change={"version": change.version, "status": "pending", "fields": sorted(change.fields)} if change else None,
        applied=applied,
    )


# --- direct mode -------------------------------------------------------------------------------
def _direct(*, caller, action, ids, if_match, patch, batch) -> dict:
    from ads_read.pending import pending_get

    ads = {ad.id: ad for ad in Ad.objects.filter(retailer=caller.retailer, id__in=ids)}
    results, events = {}, []
    client = redis_client()
    # A journaled command is not stored yet (its message may be lost, to be replayed), though
    # its lock may have lapsed: the ad stays busy until it is.
    journaled = COMMANDS_JOURNAL.holding(ad_ids=ids)
    for ad_id in ids:
        try:
            ad = ads.get(ad_id)
            if ad is None and (pending_get(ad_id=ad_id) or {}).get("retailer_id") == str(caller.retailer.id):
                raise problem("ad-not-changeable", detail="The ad is accepted but not stored yet; retry shortly.")
            # A command in flight: the stored ad is not the state the next one applies to.
            if str(ad_id) in journaled or (client is not None and client.exists(_LOCK_KEY.format(ad_id))):
                raise _busy()
            event = _command_event(caller=caller, action=action, ad=ad, if_match=if_match, patch=patch)
            if _nothing_to_do(ad, action):
                results[ad_id] = _result(ad, applied=False)
                continue
            if client is not None and not client.set(_LOCK_KEY.format(ad_id), event.event_id, nx=True, ex=LOCK_SECONDS):
                raise _busy()
        except Problem as refused:
            if batch:
                results[ad_id] = refused
                continue
            raise
        events.append(event)
        results[ad_id] = _direct_result(ad, event, action)
    if events:
        # Journaled before the publish: a consumer quicker than a later write would leave the
        # entry behind (and the ad busy) until a replay found the command stored.
        pipe = redis_pipeline()
        COMMANDS_JOURNAL.record(events=events, pipe=pipe)
        if pipe is not None:
            execute_best_effort(pipe, what=f"journal {len(events)} commands")
        try:
            publish_task(task_name=COMMANDS_TASK, payload=[e.to_dict() for e in events])
        except Exception as exc:
            COMMANDS_JOURNAL.clear_events(events=events)
            _unlock(events)
            raise broker_unavailable() from exc
    return results


def _busy() -> Problem:
    return problem(
        "ad-busy",
        detail="The ad's previous command is still on its way to the write side; retry shortly.",
        headers={"Retry-After": "1"},
    )


def _direct_result(ad: Ad, event: Event, action: str) -> CommandResult:
    # What the command makes of the stored ad, as the consumer will apply it.
    paused = {"pause": True, "resume": False, "withdraw": False}.get(action, ad.paused)
    change = None
    if action == "change":
        change = {"version": event.version, "status": "pending", "fields": sorted(event.data["fields"])}
    return CommandResult(
        id=ad.id,
        version=event.version,
        status=AdStatus.WITHDRAWN if action == "withdraw" else ad.status,
        paused=paused,
        change=change,
    )


def _unlock(events: list[Event]) -> None:
    client = redis_client()
    if client is None:
        return
    try:
        for event in events:
            client.eval(_UNLOCK, 1, _LOCK_KEY.format(event.ad_id), event.event_id)
    except Exception:  # the lock lapses by itself
        logger.warning("could not drop the command locks of %d ads", len(events), exc_info=True)


def commands_process(*, events: list[Event], ad_ids: list | None = None) -> list[uuid.UUID]:
    """The consumer (queue `intake`): store the commands that direct mode published (each
    only on the version it was made on: else it is refused and audited so), then judge the
    changes that wait on those ads and on `ad_ids` (cqrs stored its changes already).
    Idempotent. Returns the ids of the ads to project."""
    fresh = _unrecorded(events) if events else []
    if fresh:
        with transaction.atomic():
            records = []
            ads = Ad.objects.select_for_update().filter(id__in=[e.ad_id for e in fresh]).order_by("id")
            ads = {str(ad.id): ad for ad in ads}
            for event in fresh:
                ad = ads.get(event.ad_id)
                if ad is None:
                    continue
                if ad.version != event.data["base_version"]:
                    records.append(_refused(ad, event, f"the ad moved to version {ad.version} first"))
                    continue
                records.append(_apply(ad, event)[1])
            audit_record_many(records=[r for r in records if r])
        _unlock(fresh)
    # Stored, refused, or of an ad that is gone: nothing left to replay.
    COMMANDS_JOURNAL.clear_events(events=events)
    ids = list(dict.fromkeys([*(uuid.UUID(e.ad_id) for e in events), *(uuid.UUID(str(i)) for i in ad_ids or [])]))
    changes_judge(ad_ids=ids)
    return ids


def _unrecorded(events: list[Event]) -> list[Event]:
    # A command's audit entry commits with it: one that has its entry is stored (or refused).
    done = AuditEntry.objects.filter(event_id__in=[e.event_id for e in events]).values_list("event_id", flat=True)
    done = {str(event_id) for event_id in done}
    return [e for e in events if e.event_id not in done]


def _refused(ad: Ad, event: Event, reason: str) -> AuditRecord:
    if event.type == _EVENT_TYPE["change"]:
        AdChange.objects.create(
            ad=ad,
            event_id=event.event_id,
            base_version=event.data["base_version"],
            fields=event.data["fields"],
            actor=event.data["actor"],
            status=AdChange.Status.REFUSED,
        )
    return AuditRecord(
        event_id=uuid.UUID(event.event_id),
        action="ad.command_refused",
        actor=event.data["actor"],
        ad_id=ad.id,
        retailer_id=ad.retailer_id,
        data={"command": event.type, "base_version": event.data["base_version"], "reason": reason},
    )
