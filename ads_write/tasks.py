"""Consumers of intake events (queue `intake`): thin wrappers around services.

Intake messages go to `process_submissions_batch_task` when INTAKE_BATCHING is on, which
buffers them in the worker (celery-batches) and judges many at once: one message per ad caps
the pipeline near the broker's per-message cost (DESIGN.md §12). A buffer that fails is
handed, message by message, to `process_submissions_task`, the plain consumer (bounded
retries, dead letters), which takes the intake messages with INTAKE_BATCHING off.
"""

import logging
import time

from celery import shared_task
from django.conf import settings

from adplatform.kernel.broker import publish_task
from adplatform.kernel.events import PROJECT_ADS_TASK, Event, InvalidEvent
from adplatform.kernel.task_base import PipelineBatches, PipelineTask, PoisonMessage, dead_letter_record
from ads_read.projections import ads_project_judged

from . import admission, idempotency
from .journal import intake_journal_clear
from .services.commands import commands_process
from .services.housekeeping import content_fingerprints_purge, outbox_purge
from .services.outbox import outbox_publish
from .services.reconciliation import ads_reconcile_pending, commands_journal_replay, intake_journal_replay
from .services.submissions import submissions_process

logger = logging.getLogger(__name__)


def _decode(payload, *, task_id: str = "", task_name: str = "ads_write.tasks.process_submissions_task") -> list[Event]:
    if not isinstance(payload, list):
        raise PoisonMessage(f"an intake message is a list of events, got {type(payload).__name__}")
    events = []
    for raw in payload:
        try:
            events.append(Event.from_dict(raw))
        except InvalidEvent as exc:
            # One bad event must not hold up the good ones beside it: it becomes a dead letter of
            # its own (written once, however often this message is delivered), replayable
            # through the retry lane.
            if not dead_letter_record(task_name=task_name, task_id=task_id, args=[[raw]], error=exc):
                raise RuntimeError("could not record a dead letter for a bad event; retrying the message") from exc
    return events


def _process(events: list[Event]) -> int:
    if not events:
        return 0
    processed = submissions_process(events=events)
    # Stored now: reconciliation of pending ads covers them from here (journal.py).
    intake_journal_clear(ad_ids=processed.ids)
    # The ads stored here with their verdict are projected here, from what this task holds:
    # reading them back in a projection task of their own cost a message and three queries
    # per batch. Should this fail, the task retries, finds them stored, and publishes them.
    ads_project_judged(judged=processed.judged)
    projected = {ad.id for ad, _ in processed.judged}
    rest = [str(i) for i in processed.ids if i not in projected]
    if rest:
        # Published here, not on commit: if the broker refuses, this task fails and retries,
        # and the retry (whose other steps are no-ops by then) publishes again.
        publish_task(task_name=PROJECT_ADS_TASK, payload=rest)
    return len(processed.ids)


@shared_task(base=PipelineTask, bind=True, name="ads_write.tasks.process_submissions_task")
def process_submissions_task(self, payload):
    return _process(_decode(payload, task_id=self.request.id or ""))


@shared_task(base=PipelineTask, bind=True, name="ads_write.tasks.process_commands_task")
def process_commands_task(self, payload):
    """The retailer's commands on submitted ads (services/commands.py): direct mode's events,
    or the ids of ads whose change cqrs stored; stores and judges, then projects."""
    if not isinstance(payload, list):
        raise PoisonMessage(f"a commands message is a list, got {type(payload).__name__}")
    ad_ids = [item for item in payload if isinstance(item, str)]
    raw = [item for item in payload if not isinstance(item, str)]
    events = _decode(raw, task_id=self.request.id or "", task_name=self.name)
    ids = commands_process(events=events, ad_ids=ad_ids)
    # Published here, not on commit: a refused publish fails the task, and its retry publishes.
    if ids:
        publish_task(task_name=PROJECT_ADS_TASK, payload=[str(i) for i in ids])
    return len(ids)


@shared_task(
    base=PipelineBatches,
    bind=True,
    name="ads_write.tasks.process_submissions_batch_task",
    retry_lane="ads_write.tasks.process_submissions_task",
    flush_every=settings.WORKER_PREFETCH,
    flush_max=settings.INTAKE_BATCH_SIZE,
    flush_interval=settings.INTAKE_BATCH_INTERVAL,
    # What the worker holds is part of the intake lag that admission control watches.
    accepted_at=staticmethod(admission.request_accepted_at),
    held_report=staticmethod(admission.held_report),
)
def process_submissions_batch_task(self, requests):
    """Judge the buffered intake messages together. Once this returns the worker
    acknowledges every message, so on an error each message goes to the retry lane first;
    if even that fails, the buffer goes back to the broker (kernel/task_base.py)."""
    try:
        events = []
        for request in requests:
            try:
                events += _decode(request.args[0] if request.args else None, task_id=request.id)
            except PoisonMessage as exc:
                if not dead_letter_record(task_name=self.name, task_id=request.id, args=list(request.args), error=exc):
                    raise RuntimeError("could not record a dead letter for a poison message") from exc
        started = time.monotonic()
        judged = _process(events)
        # The batch sizes the load gave (PipelineBatches), for whoever tunes the worker.
        logger.info("judged %d ads of %d messages in %.3f s", judged, len(requests), time.monotonic() - started)
        return judged
    except Exception:
        logger.warning(
            "intake batch of %d messages failed; handing them to the retry lane", len(requests), exc_info=True
        )
    return self.to_retry_lane(requests)


@shared_task(bind=True, name="ads_write.tasks.maintenance_outbox_sweep_task")
def maintenance_outbox_sweep_task(self):
    """Publish outbox rows that the after-commit relay missed (a crash, a broker outage)."""
    return outbox_publish(older_than_seconds=settings.OUTBOX_SWEEP_AFTER)


@shared_task(bind=True, name="ads_write.tasks.maintenance_outbox_purge_task")
def maintenance_outbox_purge_task(self):
    """Delete outbox rows published more than OUTBOX_RETENTION_DAYS ago (beat, daily)."""
    return outbox_purge(older_than_days=settings.OUTBOX_RETENTION_DAYS)


@shared_task(bind=True, name="ads_write.tasks.maintenance_purge_fingerprints_task")
def maintenance_purge_fingerprints_task(self):
    return content_fingerprints_purge(older_than_days=settings.CONTENT_FINGERPRINT_RETENTION_DAYS)


@shared_task(bind=True, name="ads_write.tasks.maintenance_idempotency_purge_task")
def maintenance_idempotency_purge_task(self):
    """Delete idempotency keys older than their 24 hours."""
    return idempotency.idempotency_keys_purge()


@shared_task(bind=True, name="ads_write.tasks.maintenance_reconcile_pending_task")
def maintenance_reconcile_pending_task(self):
    """Re-publish ads whose message was lost: direct-mode ads never stored (the intake
    journal), direct-mode commands never stored (the command journal), then stored ads stuck
    in pending. Beat runs it every RECONCILE_PENDING_AFTER seconds."""
    limits = {"older_than_seconds": settings.RECONCILE_PENDING_AFTER, "limit": settings.RECONCILE_BATCH_LIMIT}
    return intake_journal_replay(**limits) + commands_journal_replay(**limits) + ads_reconcile_pending(**limits)
