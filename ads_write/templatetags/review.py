"""Template helpers of the compliance workspace: the queue's counts on the admin index."""

import json

from django import template
from django.conf import settings
from django.utils import timezone

from ..models import Ad, AdStatus, Appeal, ReviewClaim

register = template.Library()

# Counting stops here: the index stays fast however long the queue grows.
COUNT_CAP = 10_000


def _count(queryset) -> str:
    counted = queryset.order_by()[: COUNT_CAP + 1].count()
    return f"more than {COUNT_CAP:,}" if counted > COUNT_CAP else f"{counted:,}"


@register.inclusion_tag("admin/ads_write/review_counts.html", takes_context=True)
def review_counts(context):
    request = context["request"]
    if not request.user.has_perm("ads_write.view_heldad"):
        return {"show": False}
    now = timezone.now()
    held = Ad.objects.filter(status=AdStatus.NEEDS_REVIEW)
    deadline = now - timezone.timedelta(hours=settings.REVIEW_SLA_HOURS)
    claimed = ReviewClaim.objects.filter(expires_at__gt=now, ad__status=AdStatus.NEEDS_REVIEW)
    counts = [
        ("held", "Held for review", _count(held), "admin:ads_write_heldad_changelist", ""),
        (
            "overdue",
            "Overdue",
            _count(held.filter(reviewed_at__lt=deadline)),
            "admin:ads_write_heldad_changelist",
            "sla=overdue",
        ),
        ("claimed", "Being reviewed", _count(claimed), "admin:ads_write_heldad_changelist", "claim=any"),
    ]
    if request.user.has_perm("ads_write.view_appeal"):
        appeals = Appeal.objects.filter(status=Appeal.Status.OPEN)
        counts += [
            ("appeals", "Open appeals", _count(appeals), "admin:ads_write_appeal_changelist", "status__exact=open"),
            (
                "appeals-overdue",
                "Overdue appeals",
                _count(appeals.filter(submitted_at__lt=deadline)),
                "admin:ads_write_appeal_changelist",
                "sla=overdue",
            ),
        ]
    return {"show": True, "counts": counts, "sla_hours": settings.REVIEW_SLA_HOURS}


@register.filter
def as_json(value) -> str:
    """A finding's evidence as JSON (what the API shows), not a Python dict; escaped by the template."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
