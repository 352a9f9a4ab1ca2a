"""Notification tasks: webhook sends (queue `notifications`) and the daily report (queue
`reports`). Thin wrappers around the services."""

from celery import shared_task

from adplatform.kernel.pipeline import PipelineTask, PoisonMessage

from . import services

# Attempts one sweep makes before it yields to the next beat tick (keeps a run well under the
# task time limit even when many deliveries come due at once).
SWEEP_LIMIT = 200


@shared_task(base=PipelineTask, bind=True, name="notifications.tasks.webhook_send_task")
def webhook_send_task(self, event_ids):
    """Send the due deliveries of the given events (published after the projection commits)."""
    if not isinstance(event_ids, list):
        raise PoisonMessage(f"webhook_send_task takes a list of event ids, got {type(event_ids).__name__}")
    return services.webhook_deliveries_send(event_ids=event_ids)


@shared_task(bind=True, name="notifications.tasks.webhook_sweep_task", acks_late=True)
def webhook_sweep_task(self):
    """Send every due delivery: retries whose time has come, and sends whose task was lost."""
    return services.webhook_deliveries_send(limit=SWEEP_LIMIT)


@shared_task(base=PipelineTask, bind=True, name="notifications.tasks.report_daily_failed_ads_task")
def report_daily_failed_ads_task(self):
    """The daily failed-ads report for every retailer (beat, REPORT_DAILY_AT). A retry after a
    partial failure sends only what is missing: each retailer and day goes out once."""
    return len(services.report_daily_failed_ads())
