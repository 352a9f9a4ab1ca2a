"""Read access to webhook endpoints and deliveries, and to who gets the daily report."""

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import QuerySet
from django.utils import timezone

from adplatform.kernel.models import Retailer

from .models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)


def webhook_endpoint_list(*, retailer_id) -> QuerySet:
    return WebhookEndpoint.objects.filter(retailer_id=retailer_id).order_by("created_at")


def webhook_endpoint_get(*, retailer_id, endpoint_id) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(retailer_id=retailer_id, id=endpoint_id).first()


def webhook_delivery_list(*, endpoint: WebhookEndpoint, status: str | None = None) -> QuerySet:
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries


def report_retailers() -> list[Retailer]:
    """The retailers the failed-ads report goes to: active ones with report contacts, by name."""
    return [
        retailer for retailer in Retailer.objects.filter(is_active=True).order_by("name") if retailer.report_contacts
    ]


def report_daily_due(*, now: datetime | None = None) -> list[tuple[Retailer, date]]:
    """Today's run of the daily report: each of report_retailers() with the previous day of
    its own time zone (always a day that is over)."""
    now = now or timezone.now()
    due = []
    for retailer in report_retailers():
        try:
            due.append((retailer, now.astimezone(ZoneInfo(retailer.timezone)).date() - timedelta(days=1)))
        except (ValueError, ZoneInfoNotFoundError):
            logger.error("no daily report for %s: its time zone %r is not valid", retailer.name, retailer.timezone)
    return due
