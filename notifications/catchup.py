"""The daily report's catch-up: every day of the last REPORT_CATCHUP_DAYS whose report was not
sent, not only yesterday's.

Beat's daily run used to publish yesterday's report per retailer and nothing else, so a day
whose run never happened (no beat was up at REPORT_DAILY_AT, the lease changed hands across
it) or whose fan-out message was lost was never reported. Each run now publishes every
(retailer, day) of the window with no *sent* delivery row; the send service's row, unique per
retailer and day, keeps each report to one (a day already sent, or claimed by a live worker,
is left alone), so catching up never sends a report twice.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from adplatform.kernel.models import Retailer

from .models import ReportDelivery
from .selectors import report_daily_due


def report_days_due(*, now: datetime | None = None, days: int | None = None) -> list[tuple[Retailer, date]]:
    """Each report retailer's days, from `days` days before yesterday (its own time zone) up to
    yesterday, whose report is not sent: oldest first per retailer. Days before the retailer
    existed are skipped (yesterday never is, as before the catch-up)."""
    now = now or timezone.now()
    days = settings.REPORT_CATCHUP_DAYS if days is None else days
    candidates = []
    for retailer, yesterday in report_daily_due(now=now):
        created = retailer.created_at.astimezone(ZoneInfo(retailer.timezone)).date()
        first = min(yesterday, max(yesterday - timedelta(days=max(days, 1) - 1), created))
        candidates += [(retailer, first + timedelta(days=n)) for n in range((yesterday - first).days + 1)]
    if not candidates:
        return []
    sent = set(
        ReportDelivery.objects.filter(
            retailer__in={retailer.id for retailer, _ in candidates},
            date__gte=min(day for _, day in candidates),
            status=ReportDelivery.Status.SENT,
        ).values_list("retailer_id", "date")
    )
    return [(retailer, day) for retailer, day in candidates if (retailer.id, day) not in sent]
