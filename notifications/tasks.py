"""Notification tasks: webhook sends (queue `notifications`) and the daily report (queue
`reports`). Thin wrappers around the services."""

import logging
from datetime import date

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError

from adplatform.kernel.models import Retailer
from adplatform.kernel.task_base import PipelineTask, PoisonMessage

from . import catchup
from .services import reports, webhook_deliveries

logger = logging.getLogger(__name__)

# Attempts one sweep makes before it yields to the next beat tick (keeps a run well under the
# task time limit even when many deliveries come due at once).
SWEEP_LIMIT = 200


@shared_task(base=PipelineTask, bind=True, name="notifications.tasks.webhook_send_task")
def webhook_send_task(self, event_ids):
    """Send the due deliveries of the given events (published after the projection commits)."""
    if not isinstance(event_ids, list):
        raise PoisonMessage(f"webhook_send_task takes a list of event ids, got {type(event_ids).__name__}")
    return webhook_deliveries.webhook_deliveries_send(event_ids=event_ids)


@shared_task(bind=True, name="notifications.tasks.webhook_sweep_task")
def webhook_sweep_task(self):
    """Send every due delivery: retries whose time has come, and sends whose task was lost."""
    return webhook_deliveries.webhook_deliveries_send(limit=SWEEP_LIMIT)


@shared_task(base=PipelineTask, bind=True, name="notifications.tasks.report_daily_failed_ads_task")
def report_daily_failed_ads_task(self):
    """Beat, daily at REPORT_DAILY_AT: one send task per retailer and day not yet reported
    (yesterday, and the days of the last REPORT_CATCHUP_DAYS a missed run or a lost message
    left unsent: catchup.py), so that reports are built in parallel on the `reports` workers
    and one large report does not hold up the others. Running it twice is harmless: a report
    already sent is not sent again."""
    due = catchup.report_days_due()
    for retailer, day in due:
        report_failed_ads_send_task.delay(str(retailer.id), day.isoformat())
    return len(due)


@shared_task(
    base=PipelineTask,
    bind=True,
    name="notifications.tasks.report_failed_ads_send_task",
    time_limit=settings.REPORT_SEND_TIME_LIMIT,
)
def report_failed_ads_send_task(self, retailer_id, day):
    """One retailer's report of one day, at most once. If another worker holds the claim,
    look again when the claim would expire: that worker may have died."""
    try:
        retailer = Retailer.objects.get(id=retailer_id)
        day = date.fromisoformat(day)
    except (Retailer.DoesNotExist, ValidationError, ValueError, TypeError) as exc:
        raise PoisonMessage(f"report_failed_ads_send_task({retailer_id!r}, {day!r}): {exc}") from exc
    try:
        outcome = reports.report_failed_ads_send(retailer=retailer, day=day)
    except reports.ReportError as exc:  # e.g. the contacts were removed since beat's run
        logger.warning("daily report for %s not sent: %s", retailer.name, exc)
        return "not_sent"
    if outcome.result == "in_progress":
        raise self.retry(countdown=reports.report_claim_expires_in(outcome.delivery) + 1)
    return outcome.result
