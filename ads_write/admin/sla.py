"""How long a queue item (a held ad, an open appeal) has waited, and how it stands against
the SLA (REVIEW_SLA_HOURS)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html


def sla_hours():
    return timedelta(hours=settings.REVIEW_SLA_HOURS)


def sla_markup(since) -> str:
    """How an item waiting since `since` stands against the SLA: overdue by …, due in …."""
    left = since + sla_hours() - timezone.now()
    if left.total_seconds() < 0:
        return format_html('<span class="sla sla-overdue">overdue by {}</span>', age_text(-left))
    return format_html('<span class="sla sla-due">due in {}</span>', age_text(left))


def age_text(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    return f"{days} d {hours} h" if days else f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
