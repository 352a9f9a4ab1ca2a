"""Intake: accepting ads that passed basic validation, in the configured mode (DESIGN.md §3,
settings.AD_INTAKE_MODE):
- sync:   store, validate in full, project, answer 201 with the final state;
- cqrs:   store + outbox row in one transaction, publish after commit, answer 202;
- direct: publish first (answer only once the broker has it), the consumer stores; 202."""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from adplatform.kernel.auth import Caller
from adplatform.kernel.broker import broker_pipeline, publish_tasks, task_messages_push
from adplatform.kernel.bulk import chunked
from adplatform.kernel.events import Event
from adplatform.kernel.ids import new_id
from adplatform.kernel.metrics import ADS_ACCEPTED
from adplatform.kernel.redis_client import execute_best_effort
from adplatform.kernel.redis_client import pipeline as redis_pipeline
from adplatform.problems import broker_unavailable
from ads_read.pending import pending_mark

from ..admission import intake_admit
from ..journal import intake_journal_record
from ..models import Ad, AdStatus
from ..validation.engine import AdFacts, Evaluation, evaluate
from ..validation.facts import velocity_record
from .events import PROCESS_SUBMISSIONS_TASK, submitted_event
from .outbox import outbox_add, outbox_publish
from .submissions import submissions_process, submissions_store

logger = logging.getLogger(__name__)

INTAKE_MODES = ("sync", "cqrs", "direct")


@dataclass(frozen=True)
class Accepted:
    id: uuid.UUID
    status: str
    submitted_at: datetime


def ads_submit(*, caller: Caller, ads: list[dict], mode: str | None = None) -> list[Accepted]:
    """Accept ads that passed basic validation, in the configured intake mode.

    Raises a 503 problem (and accepts nothing) in direct mode when the broker cannot take
    the message, and in the asynchronous modes when the consumers are behind by more than
    INTAKE_MAX_LAG (admission.py)."""
    mode = mode or settings.AD_INTAKE_MODE
    if mode not in INTAKE_MODES:
        raise ValueError(f"AD_INTAKE_MODE must be one of {INTAKE_MODES}, not {mode!r}")
    # Consumers far behind: refuse before anything is published (503 intake-overloaded).
    intake_admit(mode=mode, ads=len(ads))
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


def ads_validate_only(*, retailer, ads: list[dict]) -> list[Evaluation]:
    """A dry run (validate_only=true): the detailed validation that intake would run, with
    nothing stored, published or audited. The stateful facts (duplicate content across
    retailers, submission velocity) keep their defaults: they depend on the submissions
    around a real intake, so a dry run never gives FRAUD.DUPLICATE_CONTENT or FRAUD.VELOCITY;
    nor does it call the external validator (EXTERNAL.*)."""
    facts = AdFacts(retailer_name=retailer.name, retailer_id=retailer.id, velocity_limit=retailer.velocity_limit)
    return [evaluate(ad, facts=facts) for ad in ads]


def _submit_sync(events: list[Event]) -> list[Accepted]:
    from ads_read.projections import ads_project

    ids = submissions_process(events=events).ids
    ads_project(ad_ids=ids)  # the linear path fills the read table itself, inside the request
    ads = Ad.objects.in_bulk(ids)
    return [Accepted(id=ad_id, status=ads[ad_id].status, submitted_at=ads[ad_id].submitted_at) for ad_id in ids]


def _submit_cqrs(events: list[Event]) -> None:
    with transaction.atomic():
        outbox_ids = [
            outbox_add(task_name=PROCESS_SUBMISSIONS_TASK, payload=[e.to_dict() for e in chunk])
            for chunk in chunked(events, settings.INTAKE_MESSAGE_SIZE)
        ]
        # Last, because its audit entries hold the chain lock until commit (audit/services.py).
        submissions_store(events=events)
        transaction.on_commit(lambda: outbox_publish(ids=outbox_ids), robust=True)


def _submit_direct(events: list[Event]) -> None:
    payloads = [[e.to_dict() for e in chunk] for chunk in chunked(events, settings.INTAKE_MESSAGE_SIZE)]
    pipe = broker_pipeline()
    if pipe is None:  # a broker apart from the markers' Redis: two round trips
        try:
            publish_tasks(task_name=PROCESS_SUBMISSIONS_TASK, payloads=payloads)
        except Exception as exc:
            # The answer says only "unavailable"; the log says why (refused, reset, timeout).
            logger.warning("direct intake refused: the broker did not take the message (%r)", exc)
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
