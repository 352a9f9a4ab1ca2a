"""Command side: accepting ads, judging them, deciding held ones.

Intake modes (DESIGN.md §3), chosen by settings.AD_INTAKE_MODE:
- sync:   store, validate in full, project, answer 201 with the final state;
- cqrs:   store + outbox row in one transaction, publish after commit, answer 202;
- direct: publish first (answer only once the broker has it), the consumer stores; 202.
"""

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from adplatform.kernel.auth import Caller
from adplatform.kernel.broker import broker_pipeline, task_messages_push
from adplatform.kernel.bulk import rows_insert
from adplatform.kernel.events import Event
from adplatform.kernel.ids import new_id
from adplatform.kernel.metrics import ADS_ACCEPTED, READ_MODEL_RECONCILED_ADS, RECONCILED_ADS, VERDICTS
from adplatform.kernel.redis_client import execute_best_effort
from adplatform.kernel.redis_client import pipeline as redis_pipeline
from adplatform.problems import broker_unavailable
from ads_read.pending import pending_mark
from audit.services import AuditRecord, audit_record_many

from .journal import intake_journal_clear, intake_journal_record, intake_journal_stale, intake_journal_touch
from .models import Ad, AdStatus, Finding, OutboxMessage, Verdict
from .selectors import ads_behind_read_model
from .validation.engine import AdFacts, ad_input, evaluate, evaluate_many
from .validation.engine import Verdict as EngineVerdict
from .validation.facts import velocity_record

logger = logging.getLogger(__name__)

INTAKE_MODES = ("sync", "cqrs", "direct")
# Intake messages go to the buffering consumer when INTAKE_BATCHING is on (see tasks.py).
PROCESS_SUBMISSIONS_TASK = (
    "ads_write.tasks.process_submissions_batch_task"
    if settings.INTAKE_BATCHING
    else "ads_write.tasks.process_submissions_task"
)
PROJECT_ADS_TASK = "ads_read.tasks.project_ads_task"
# Ad ids per projection message the read-model sweep publishes (the intake consumer's carry
# the ads of what it judged at once: one message's, or a batching consumer's whole buffer).
PROJECTION_MESSAGE_SIZE = 100
# Rows deleted per statement by the daily purges.
PURGE_CHUNK = 1000
VALIDATOR_ACTOR = "system:validator"
RECONCILER_ACTOR = "system:reconciler"
# Derives the ids of events that follow from another (a verdict from its intake event), so a
# redelivered event yields the same ids and the same single audit entry.
_DERIVED_EVENT_NAMESPACE = uuid.UUID("6f1d3c0e-2b7a-4a51-9a3e-5d2f0c1b7e11")


@dataclass(frozen=True)
class Accepted:
    id: uuid.UUID
    status: str
    submitted_at: datetime


class DecisionError(ValueError):
    pass


# --- the ad as it travels ------------------------------------------------------------------
_DATETIME_FIELDS = ("starts_at", "ends_at")
_NOT_JSON_SAFE = frozenset({"price", *_DATETIME_FIELDS})


def ad_to_json(ad: dict) -> dict:
    """The normalised ad (from basic validation) as JSON-safe event data."""
    data = {k: v for k, v in ad.items() if k not in _NOT_JSON_SAFE}
    for name in _DATETIME_FIELDS:
        if ad.get(name):
            data[name] = ad[name].isoformat()
    if ad.get("price"):
        data["price"] = {"amount": str(ad["price"]["amount"]), "currency": ad["price"]["currency"]}
    return data


def _ad_model_fields(data: dict) -> dict:
    fields = {k: v for k, v in data.items() if k not in ("price", "submitted_at", "actor", *_DATETIME_FIELDS)}
    for name in _DATETIME_FIELDS:
        if data.get(name):
            fields[name] = datetime.fromisoformat(data[name])
    if data.get("price"):
        fields["price_amount"] = Decimal(data["price"]["amount"])
        fields["price_currency"] = data["price"]["currency"]
    return fields


_AD_FIELDS = Ad._meta.concrete_fields


def _ad_row(event: Event, *, defaults: dict) -> tuple:
    fields = _ad_model_fields(event.data)
    unknown = fields.keys() - defaults.keys()
    if unknown:
        raise ValueError(f"ad.submitted event {event.event_id} has fields an ad does not: {sorted(unknown)}")
    values = {
        **defaults,
        "id": event.ad_id,
        "retailer_id": event.retailer_id,
        "intake_event_id": event.event_id,
        "submitted_at": datetime.fromisoformat(event.data["submitted_at"]),
        **fields,
    }
    return tuple(values[f.attname] for f in _AD_FIELDS)


def derived_event_id(event_id, suffix: str) -> uuid.UUID:
    return uuid.uuid5(_DERIVED_EVENT_NAMESPACE, f"{event_id}:{suffix}")


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- intake ------------------------------------------------------------------------------
def ads_submit(*, caller: Caller, ads: list[dict], mode: str | None = None) -> list[Accepted]:
    """Accept ads that passed basic validation, in the configured intake mode.

    Raises a 503 problem (and accepts nothing) in direct mode when the broker cannot take
    the message."""
    mode = mode or settings.AD_INTAKE_MODE
    if mode not in INTAKE_MODES:
        raise ValueError(f"AD_INTAKE_MODE must be one of {INTAKE_MODES}, not {mode!r}")
    submitted_at = timezone.now()
    submitted, retailer_id, actor = submitted_at.isoformat(), str(caller.retailer.id), caller.actor
    ids = [new_id() for _ in ads]
    events = [
        submitted_event(ad_id=ad_id, retailer_id=retailer_id, ad=ad, actor=actor, at=submitted)
        for ad_id, ad in zip(ids, ads, strict=True)
    ]
    if not events:
        return []
    if mode == "sync":
        accepted = _submit_sync(events)
        ADS_ACCEPTED.labels(mode).inc(len(accepted))
        return accepted
    if mode == "cqrs":
        _submit_cqrs(events)
        _mark_accepted(events=events, journal=False)
    else:
        _submit_direct(events)
    ADS_ACCEPTED.labels(mode).inc(len(events))
    return [Accepted(id=ad_id, status=AdStatus.PENDING, submitted_at=submitted_at) for ad_id in ids]


def ads_validate_only(*, retailer, ads: list[dict]) -> list[EngineVerdict]:
    """A dry run (validate_only=true): the detailed validation that intake would run, with
    nothing stored, published or audited. The stateful facts (duplicate content across
    retailers, submission velocity) keep their defaults: they depend on the submissions
    around a real intake, so a dry run never gives FRAUD.DUPLICATE_CONTENT or FRAUD.VELOCITY;
    nor does it call the external validator (EXTERNAL.*)."""
    facts = AdFacts(retailer_name=retailer.name, retailer_id=retailer.id, velocity_limit=retailer.velocity_limit)
    return [evaluate(ad, facts=facts) for ad in ads]


def _submit_sync(events: list[Event]) -> list[Accepted]:
    from ads_read.projections import ads_project

    ids = submissions_process(events=events)
    ads_project(ad_ids=ids)  # the linear path fills the read table itself, inside the request
    ads = Ad.objects.in_bulk(ids)
    return [Accepted(id=ad_id, status=ads[ad_id].status, submitted_at=ads[ad_id].submitted_at) for ad_id in ids]


def _submit_cqrs(events: list[Event]) -> None:
    with transaction.atomic():
        outbox_ids = [
            outbox_add(task_name=PROCESS_SUBMISSIONS_TASK, payload=[e.to_dict() for e in chunk])
            for chunk in _chunks(events, settings.INTAKE_MESSAGE_SIZE)
        ]
        # Last, because its audit entries hold the chain lock until commit (audit/services.py).
        submissions_store(events=events)
        transaction.on_commit(lambda: outbox_publish(ids=outbox_ids), robust=True)


def _submit_direct(events: list[Event]) -> None:
    payloads = [[e.to_dict() for e in chunk] for chunk in _chunks(events, settings.INTAKE_MESSAGE_SIZE)]
    pipe = broker_pipeline()
    if pipe is None:  # a broker apart from the markers' Redis: two round trips
        try:
            publish_tasks(task_name=PROCESS_SUBMISSIONS_TASK, payloads=payloads)
        except Exception as exc:
            raise broker_unavailable() from exc
        _mark_accepted(events=events, journal=True)
        return
    # The messages first, then the marker, velocity and journal writes, in one round trip.
    messages = task_messages_push(pipe=pipe, task_name=PROCESS_SUBMISSIONS_TASK, payloads=payloads)
    _mark_accepted(events=events, journal=True, pipe=pipe)
    try:
        results = pipe.execute(raise_on_error=False)
    except Exception as exc:
        # The pipeline broke midway: some messages may be queued, and those ads will be
        # processed although the client is told nothing was accepted (a retry makes new ads).
        raise broker_unavailable() from exc
    refused = next((r for r in results[:messages] if isinstance(r, Exception)), None)
    if refused is not None:
        raise broker_unavailable() from refused
    failed = [r for r in results[messages:] if isinstance(r, Exception)]
    if failed:
        logger.warning("could not mark %d accepted ads: %s", len(events), failed)


def _mark_accepted(*, events: list[Event], journal: bool, pipe=None) -> None:
    # Read-your-writes (`pending` until the read row lands), the velocity window and, in
    # direct mode, the intake journal, in one round trip: Redis waits are most of a
    # single-ad request. Best effort: the ad's row (or the broker's copy) and the worker's
    # own velocity write back them up. Given a pipeline, only queues the writes on it.
    own = pipe is None
    if own:
        pipe = redis_pipeline()
    if journal:
        # The broker's copy is the only one until a consumer stores the ad: journal it, so
        # that a message lost between the broker and a worker is replayed (journal.py).
        intake_journal_record(events=events, pipe=pipe)
    pending_mark(events=events, pipe=pipe)
    _velocity_record(events=events, pipe=pipe)
    if own and pipe is not None:
        execute_best_effort(pipe, what=f"mark {len(events)} accepted ads")


def _velocity_record(*, events: list[Event], pipe) -> None:
    # Count the ads in their retailer's velocity window at intake, not only when a worker
    # judges them: workers judge out of order, and an ad judged before its retailer's earlier
    # submissions would count without them (facts.py). Sync mode judges inline, in order.
    if pipe is not None:
        submissions = [
            (e.retailer_id, e.ad_id, datetime.fromisoformat(e.data["submitted_at"]).timestamp()) for e in events
        ]
        velocity_record(submissions=submissions, pipe=pipe)


def publish_task(*, task_name: str, payload: list) -> None:
    """Hand one message to the broker; returns only once the broker has it, and raises
    within about REDIS_SOCKET_TIMEOUT when it cannot (one attempt: see celery.py)."""
    publish_tasks(task_name=task_name, payloads=[payload])


def publish_tasks(*, task_name: str, payloads: list[list]) -> None:
    """Hand messages to the broker in one round trip (one Redis pipeline); returns only once
    the broker has them all."""
    from adplatform.celery import PIPELINE_SERIALIZER, app

    if not payloads:
        return
    pipe = broker_pipeline()
    if pipe is not None:
        task_messages_push(pipe=pipe, task_name=task_name, payloads=payloads)
        pipe.execute()
        return
    with app.producer_or_acquire() as producer, producer.batch():  # kombu's publish batch: one pipeline
        for payload in payloads:
            # A short argsrepr: Celery's default repr of a 100-ad payload costs more than sending it.
            app.send_task(
                task_name,
                args=[payload],
                producer=producer,
                retry=False,
                serializer=PIPELINE_SERIALIZER,
                argsrepr=f"[<{len(payload)} items>]",
            )


def submissions_store(*, events: list[Event]) -> None:
    """Store submitted ads if absent (an upsert by id) and audit each submission once.
    Runs on the request path (sync, cqrs) or in the consumer (direct)."""
    # Rows, not Ad instances: the consumer stores thousands a second (kernel/bulk.py).
    defaults = {f.attname: f.get_default() for f in _AD_FIELDS}
    rows_insert(
        model=Ad,
        columns=[f.attname for f in _AD_FIELDS],
        rows=[_ad_row(e, defaults=defaults) for e in events],
        ignore_conflicts=True,
    )
    audit_record_many(
        records=[
            AuditRecord(
                event_id=uuid.UUID(e.event_id),
                action="ad.submitted",
                actor=e.data.get("actor", "unknown"),
                ad_id=uuid.UUID(e.ad_id),
                retailer_id=uuid.UUID(e.retailer_id),
                data={k: v for k, v in e.data.items() if k != "actor"},
                occurred_at=datetime.fromisoformat(e.occurred_at),
            )
            for e in events
        ]
    )


# --- the consumer ------------------------------------------------------------------------
def submissions_process(*, events: list[Event]) -> list[uuid.UUID]:
    """Consume intake events: store what is not stored yet, judge what is not judged yet,
    record the verdicts. Idempotent: a redelivered or duplicated event changes nothing.
    Returns the ids of all ads in the events, for the projection."""
    unique = list({e.ad_id: e for e in events}.values())
    ids = [uuid.UUID(e.ad_id) for e in unique]
    # An ad and its submission's audit entry commit together, so a stored ad (cqrs, a
    # redelivery, a re-publish) needs neither again: skip them, and with them the audit
    # chain's lock, which every writer shares.
    # The stored ads are read once, for this and for judging: a cqrs message costs one query.
    ads = Ad.objects.select_related("retailer").in_bulk(ids)
    missing = [e for e in unique if uuid.UUID(e.ad_id) not in ads]
    if missing:
        with transaction.atomic():
            submissions_store(events=missing)
        ads |= Ad.objects.select_related("retailer").in_bulk([uuid.UUID(e.ad_id) for e in missing])
    unjudged = [ad for ad in ads.values() if ad.version == 1 and ad.status == AdStatus.PENDING]
    if unjudged:
        # Judged outside any transaction: the external validator may take long.
        verdicts = evaluate_many(unjudged)
        ads_record_verdicts(verdicts=verdicts)
    return ids


def ads_record_verdicts(*, verdicts: dict) -> list[uuid.UUID]:
    """Apply the engine's verdicts to ads still awaiting one (a revision check under a row
    lock), with their findings and an audit entry each. Returns the ids it changed."""
    now = timezone.now()
    with transaction.atomic():
        # Only the columns this needs, not Ad instances: a batch is hundreds of ads.
        ads = list(
            Ad.objects.select_for_update()
            .filter(id__in=list(verdicts), version=1)
            .order_by("id")
            .values_list("id", "retailer_id", "intake_event_id")
        )
        if not ads:
            return []
        rows, records, by_outcome = [], [], {}
        for ad_id, retailer_id, intake_event_id in ads:
            verdict = verdicts[ad_id]
            event_id = derived_event_id(intake_event_id, "validated")
            rows.append(
                (ad_id, event_id, 2, verdict.status, Verdict.Source.ENGINE, verdict.ruleset_version, "", "", now)
            )
            records.append(
                AuditRecord(
                    event_id=event_id,
                    action="ad.validated",
                    actor=VALIDATOR_ACTOR,
                    ad_id=ad_id,
                    retailer_id=retailer_id,
                    data={
                        "status": verdict.status,
                        "version": 2,
                        "ruleset_version": verdict.ruleset_version,
                        "findings": [f.as_dict() for f in verdict.findings],
                    },
                    occurred_at=now,
                )
            )
            by_outcome.setdefault((verdict.status, verdict.ruleset_version), []).append(ad_id)
        rows_insert(model=Verdict, columns=_VERDICT_COLUMNS, rows=rows)
        _findings_insert(verdicts=verdicts, events={row[0]: row[1] for row in rows if verdicts[row[0]].findings})
        # One UPDATE per outcome rather than bulk_update's per-row CASE, which costs more
        # than the rest of the batch together.
        for (status, ruleset_version), ids in by_outcome.items():
            Ad.objects.filter(id__in=ids).update(
                status=status, version=2, reviewed_at=now, ruleset_version=ruleset_version
            )
        audit_record_many(records=records)
        counts = Counter((row[3], Verdict.Source.ENGINE) for row in rows)
        transaction.on_commit(lambda: _count_verdicts(counts))
    return [ad_id for ad_id, *_ in ads]


def _findings_insert(*, verdicts: dict, events: dict) -> None:
    """Store the findings of the verdicts just written, those of the ads in `events` (ad id
    -> its verdict's event id): a clean batch reads nothing back."""
    if not events:
        return
    # The findings point at their verdict's id, which the database chose.
    verdict_ids = dict(Verdict.objects.filter(event_id__in=list(events.values())).values_list("ad_id", "id"))
    rows_insert(
        model=Finding,
        columns=_FINDING_COLUMNS,
        rows=[
            (verdict_ids[ad_id], f.code, f.category, f.severity, f.message, f.field or "", f.evidence)
            for ad_id in events
            for f in verdicts[ad_id].findings
        ],
    )


_VERDICT_COLUMNS = [
    "ad_id",
    "event_id",
    "version",
    "status",
    "source",
    "ruleset_version",
    "reviewer",
    "reason",
    "created_at",
]
_FINDING_COLUMNS = ["verdict_id", *Finding.DOCUMENT_FIELDS]


def _count_verdicts(counts: Counter) -> None:
    for (status, source), count in counts.items():
        VERDICTS.labels(status, source).inc(count)


# --- staff decisions -----------------------------------------------------------------------
def ad_decide(*, ad_id, status: str, reviewer: str, reason: str) -> Ad:
    """A compliance officer's decision on an ad held for review: approve or reject it with
    a written reason. Audited, and projected through the outbox like any state change."""
    if status not in (AdStatus.APPROVED, AdStatus.REJECTED):
        raise DecisionError("A decision is 'approved' or 'rejected'.")
    reason = (reason or "").strip()
    if not reason:
        raise DecisionError("A decision needs a written reason.")
    # The record must say who decided (AD_POLICY.md, "Manual review").
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise DecisionError("A decision needs the reviewer who made it.")
    now = timezone.now()
    with transaction.atomic():
        ad = Ad.objects.select_for_update().get(id=ad_id)
        if ad.status != AdStatus.NEEDS_REVIEW:
            raise DecisionError(f"Only ads held for review can be decided; this one is {ad.status}.")
        event_id = new_id()
        ad.status, ad.version, ad.decided_at = status, ad.version + 1, now
        ad.save(update_fields=["status", "version", "decided_at"])
        Verdict.objects.create(
            ad=ad,
            event_id=event_id,
            version=ad.version,
            status=status,
            source=Verdict.Source.STAFF,
            ruleset_version=ad.ruleset_version,
            reviewer=reviewer,
            reason=reason,
            created_at=now,
        )
        audit_record_many(
            records=[
                AuditRecord(
                    event_id=event_id,
                    action="ad.decided",
                    actor=f"staff:{reviewer}",
                    ad_id=ad.id,
                    retailer_id=ad.retailer_id,
                    data={"status": status, "version": ad.version, "reason": reason, "reviewer": reviewer},
                    occurred_at=now,
                )
            ]
        )
        outbox_id = outbox_add(task_name=PROJECT_ADS_TASK, payload=[str(ad.id)])
        transaction.on_commit(lambda: outbox_publish(ids=[outbox_id]), robust=True)
        transaction.on_commit(lambda: VERDICTS.labels(status, Verdict.Source.STAFF).inc())
    return ad


# --- reconciliation ------------------------------------------------------------------------
def submitted_event(*, ad_id, retailer_id, ad: dict, actor: str, at: str, event_id=None) -> Event:
    """The ad.submitted event of an ad that passed basic validation, accepted at `at` (ISO
    time): what intake publishes, and (with its original event id) what a replay rebuilds."""
    return Event(
        type="ad.submitted",
        ad_id=str(ad_id),
        retailer_id=str(retailer_id),
        version=1,
        occurred_at=at,
        data={**ad_to_json(ad), "submitted_at": at, "actor": actor},
        **({"event_id": str(event_id)} if event_id else {}),
    )


def submission_event(ad: Ad, *, actor: str) -> Event:
    """The intake event of a stored ad, rebuilt with its original event id and time, so
    that consumers treat it as the redelivery it is."""
    return submitted_event(
        ad_id=ad.id,
        retailer_id=ad.retailer_id,
        ad=ad_input(ad),
        actor=actor,
        at=ad.submitted_at.isoformat(),
        event_id=ad.intake_event_id,
    )


def ads_reconcile_pending(*, older_than_seconds: int, limit: int) -> int:
    """Re-publish the intake events of ads still pending after `older_than_seconds`, oldest
    first and at most `limit`: their message was lost (a broker that crashed without
    persistence) or is stuck. One message per ad, so that one bad ad does not hold up the
    others and its dead letter is written once however often it is re-published. Counted
    in a metric, logged and audited. Returns how many it re-published.

    In direct mode an ad whose message never reached a consumer is not in the database:
    `intake_journal_replay` finds those."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ads = list(
        Ad.objects.filter(status=AdStatus.PENDING, version=1, submitted_at__lt=cutoff).order_by("submitted_at")[:limit]
    )
    # One message per ad, all in one round trip: the broker takes them all or none.
    publish_tasks(
        task_name=PROCESS_SUBMISSIONS_TASK,
        payloads=[[submission_event(ad, actor=RECONCILER_ACTOR).to_dict()] for ad in ads],
    )
    _reconciled(ad_ids=[str(a.id) for a in ads], older_than_seconds=older_than_seconds, source="database")
    return len(ads)


def intake_journal_replay(*, older_than_seconds: int, limit: int) -> int:
    """Direct mode's backstop: re-publish journaled intake events whose ad is still not
    stored after `older_than_seconds` (the broker lost their message), oldest first and at
    most `limit`, one message per ad; forget those that are stored. Counted, logged and
    audited like `ads_reconcile_pending`. Returns how many it re-published."""
    events = intake_journal_stale(older_than_seconds=older_than_seconds, limit=limit)
    if not events:
        return 0
    stored = {str(i) for i in Ad.objects.filter(id__in=[e.ad_id for e in events]).values_list("id", flat=True)}
    intake_journal_clear(ad_ids=list(stored))
    lost = [e for e in events if e.ad_id not in stored]
    publish_tasks(task_name=PROCESS_SUBMISSIONS_TASK, payloads=[[event.to_dict()] for event in lost])
    # Each is replayed at most once per threshold; the consumer clears it once stored.
    intake_journal_touch(ad_ids=[e.ad_id for e in lost])
    _reconciled(ad_ids=[e.ad_id for e in lost], older_than_seconds=older_than_seconds, source="journal")
    return len(lost)


def _reconciled(*, ad_ids: list[str], older_than_seconds: int, source: str) -> None:
    if not ad_ids:
        return
    RECONCILED_ADS.inc(len(ad_ids))
    logger.warning(
        "reconciliation: re-published %d ads pending for over %d s (from the %s)",
        len(ad_ids),
        older_than_seconds,
        source,
    )
    _audit_sweep(
        action="ads.reconciled",
        data={"count": len(ad_ids), "older_than_seconds": older_than_seconds, "source": source, "ad_ids": ad_ids},
    )


def read_model_reconcile(*, lookback_seconds: int, grace_seconds: int, limit: int) -> int:
    """Publish the projection again for ads changed between `lookback_seconds` and
    `grace_seconds` ago whose read row is missing or older (the message was lost: a worker
    SIGKILLed as it popped it), at most `limit`, in messages of PROJECTION_MESSAGE_SIZE ids.
    Only the projection writes the read table; it applies only newer versions, so a message
    published twice, or for a projection still in flight, changes nothing. Counted in a
    metric, logged and audited. Returns how many ads it published."""
    now = timezone.now()
    ids = [
        str(ad_id)
        for ad_id in ads_behind_read_model(
            changed_from=now - timedelta(seconds=lookback_seconds),
            changed_before=now - timedelta(seconds=grace_seconds),
            limit=limit,
        )
    ]
    if not ids:
        return 0
    publish_tasks(task_name=PROJECT_ADS_TASK, payloads=list(_chunks(ids, PROJECTION_MESSAGE_SIZE)))
    READ_MODEL_RECONCILED_ADS.inc(len(ids))
    logger.warning("read-model sweep: projected %d ads whose read row was missing or older", len(ids))
    _audit_sweep(
        action="read_model.reconciled",
        data={"count": len(ids), "lookback_seconds": lookback_seconds, "grace_seconds": grace_seconds, "ad_ids": ids},
    )
    return len(ids)


def _audit_sweep(*, action: str, data: dict) -> None:
    """One audit entry for a sweep's run (in a transaction of its own: nothing else changed)."""
    with transaction.atomic():
        audit_record_many(records=[AuditRecord(event_id=new_id(), action=action, actor=RECONCILER_ACTOR, data=data)])


# --- the outbox ------------------------------------------------------------------------------
def outbox_add(*, task_name: str, payload) -> int:
    """Record a message to publish once the surrounding transaction commits."""
    return OutboxMessage.objects.create(event_id=new_id(), task_name=task_name, payload=payload).id


def outbox_publish(*, ids: list[int] | None = None, older_than_seconds: int | None = None, limit: int = 500) -> int:
    """Publish unpublished outbox rows (the given ones, or those older than a threshold) and
    mark them published. Several relays may run at once: each row is locked with SKIP LOCKED
    so it goes to one of them. A broker outage leaves rows for the next sweep."""
    published = 0
    while True:
        with transaction.atomic():
            rows = OutboxMessage.objects.filter(published_at__isnull=True)
            if ids is not None:
                rows = rows.filter(id__in=ids)
            if older_than_seconds is not None:
                rows = rows.filter(created_at__lt=timezone.now() - timedelta(seconds=older_than_seconds))
            batch = list(rows.select_for_update(skip_locked=True).order_by("id")[:limit])
            if not batch:
                return published
            done = []
            try:
                for row in batch:
                    publish_task(task_name=row.task_name, payload=row.payload)
                    done.append(row.id)
            except Exception:
                # Broker down: keep what went out marked, leave the rest to the sweep.
                OutboxMessage.objects.filter(id__in=done).update(published_at=timezone.now())
                return published + len(done)
            OutboxMessage.objects.filter(id__in=done).update(published_at=timezone.now())
            published += len(done)
        if len(batch) < limit:
            # Nothing more was there to take: another round would be one more transaction
            # per cqrs request (publish on commit) only to find no rows.
            return published


def outbox_purge(*, older_than_days: int) -> int:
    """Delete outbox rows published more than `older_than_days` ago, PURGE_CHUNK at a
    time. Rows never published are kept however old: the sweep still owes them to the
    broker. Returns how many it deleted."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    return delete_in_chunks(OutboxMessage.objects.filter(published_at__lt=cutoff), chunk_size=PURGE_CHUNK)


# --- housekeeping ----------------------------------------------------------------------------
def delete_in_chunks(rows: QuerySet, *, chunk_size: int) -> int:
    """Delete the rows `chunk_size` at a time, each chunk a statement of its own (and, run
    outside a transaction, a commit of its own), so that a large purge never holds many
    locks or one long transaction. Returns how many it deleted."""
    deleted = 0
    while True:
        ids = list(rows.values_list("pk", flat=True)[:chunk_size])
        if not ids:
            return deleted
        deleted += rows.model.objects.filter(pk__in=ids).delete()[0]


def content_fingerprints_purge(*, older_than_days: int) -> int:
    """Delete content fingerprints that FRAUD.DUPLICATE_CONTENT no longer looks at."""
    from .models import ContentFingerprint

    cutoff = timezone.now() - timedelta(days=older_than_days)
    return delete_in_chunks(ContentFingerprint.objects.filter(submitted_at__lt=cutoff), chunk_size=PURGE_CHUNK)
