"""Consumers of intake events (queue `intake`): thin wrappers around services."""

from celery import shared_task
from django.conf import settings

from adplatform.kernel.events import Event, InvalidEvent
from adplatform.kernel.pipeline import PipelineTask, PoisonMessage, dead_letter_record

from . import services


def _decode(payload, *, task_id: str) -> list[Event]:
    if not isinstance(payload, list):
        raise PoisonMessage(f"an intake message is a list of events, got {type(payload).__name__}")
    events, bad = [], []
    for raw in payload:
        try:
            events.append(Event.from_dict(raw))
        except InvalidEvent as exc:
            bad.append((raw, exc))
    for raw, exc in bad:
        # One bad event must not hold up the good ones beside it: it becomes a dead letter of
        # its own (written once, however often this message is delivered).
        if not dead_letter_record(task_name=process_submissions_task.name, task_id=task_id, args=[[raw]], error=exc):
            raise RuntimeError("could not record a dead letter for a bad event; retrying the message")
    return events


@shared_task(base=PipelineTask, bind=True, name="ads_write.tasks.process_submissions_task")
def process_submissions_task(self, payload):
    events = _decode(payload, task_id=self.request.id)
    if not events:
        return 0
    ids = services.submissions_process(events=events)
    # Published here, not on commit: if the broker refuses, this task fails and retries, and
    # the retry (whose other steps are no-ops by then) publishes again.
    services.publish_task(task_name=services.PROJECT_ADS_TASK, payload=[str(i) for i in ids])
    return len(ids)


@shared_task(bind=True, name="ads_write.tasks.maintenance_outbox_sweep_task", acks_late=True)
def maintenance_outbox_sweep_task(self):
    """Publish outbox rows that the after-commit relay missed (a crash, a broker outage)."""
    return services.outbox_publish(older_than_seconds=settings.OUTBOX_SWEEP_AFTER)


@shared_task(bind=True, name="ads_write.tasks.maintenance_reconcile_pending_task", acks_late=True)
def maintenance_reconcile_pending_task(self):
    """Re-publish ads stuck in pending (their message was lost); beat runs it every
    RECONCILE_PENDING_AFTER seconds."""
    return services.ads_reconcile_pending(
        older_than_seconds=settings.RECONCILE_PENDING_AFTER, limit=settings.RECONCILE_BATCH_LIMIT
    )
