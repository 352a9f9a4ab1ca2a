"""Query side: read-only access to the read tables (through the replica when configured)."""

import uuid

import django_filters
from django.conf import settings
from django.db.models import QuerySet

from .models import AdView
from .pending import pending_get

FAILED_STATUSES = ("rejected",)


class AdFilter(django_filters.FilterSet):
    # distinct=False: each row has one status, and SELECT DISTINCT kept PostgreSQL off the
    # (retailer_id, status, -id) index (24 ms instead of 0.06 ms a page at 100k rows).
    status = django_filters.MultipleChoiceFilter(
        choices=[(s, s) for s in ("pending", "approved", "rejected", "needs_review")], distinct=False
    )
    category = django_filters.CharFilter()
    country = django_filters.CharFilter()
    external_ref = django_filters.CharFilter()
    finding_code = django_filters.CharFilter(method="filter_finding_code", label="Finding code")
    submitted_after = django_filters.IsoDateTimeFilter(field_name="submitted_at", lookup_expr="gte")
    submitted_before = django_filters.IsoDateTimeFilter(field_name="submitted_at", lookup_expr="lt")

    class Meta:
        model = AdView
        fields = ["status", "category", "country", "external_ref"]

    def filter_finding_code(self, queryset, name, value):
        return queryset.filter(finding_codes__contains=f" {value.strip()} ")


def ad_list(*, retailer_id, filters: dict | None = None) -> QuerySet:
    """The retailer's ads, filtered. Raises django_filters' ValidationError on bad filters."""
    queryset = AdView.objects.filter(retailer_id=retailer_id)
    filterset = AdFilter(data=filters or {}, queryset=queryset)
    if not filterset.is_valid():
        raise filterset_errors(filterset)
    return filterset.qs


def ad_failed_list(*, retailer_id) -> QuerySet:
    return AdView.objects.filter(retailer_id=retailer_id, status__in=FAILED_STATUSES)


def ad_get(*, retailer_id, ad_id) -> AdView | dict | None:
    """One of the retailer's ads: its read row, or — accepted but not yet projected — a
    pending stand-in; None if the retailer has no such ad (another's ad is None too)."""
    try:
        ad_id = uuid.UUID(str(ad_id))
    except ValueError:
        return None
    row = AdView.objects.filter(id=ad_id, retailer_id=retailer_id).first()
    if row is None and "replica" in settings.DATABASES:
        # The replica may lag the primary: read-your-writes falls back to the primary.
        row = AdView.objects.using("default").filter(id=ad_id, retailer_id=retailer_id).first()
    if row is not None:
        return row
    marker = pending_get(ad_id=ad_id)
    if marker and marker.get("retailer_id") == str(retailer_id):
        return {"id": ad_id, "status": "pending", **marker}
    return None


def filterset_errors(filterset):
    from rest_framework.exceptions import ValidationError

    return ValidationError(filterset.errors)
