"""The compliance lists' filters and searches: typed-in or fixed choices, and a search that
is case-insensitive and partial where an index serves it (ids, external refs, retailers'
names, finding codes)."""

import re
from datetime import timedelta

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from adplatform.admin_tools import DateRangeFilter, InputFilter, parse_uuid
from adplatform.kernel.models import Retailer

from ..models import Finding, ReviewClaim
from ..validation.basic import TAXONOMY
from .sla import sla_hours


class CategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        return [(c, c) for c in sorted(TAXONOMY)]  # the taxonomy, not a DISTINCT over every ad

    def queryset(self, request, queryset):
        return queryset.filter(category=self.value()) if self.value() else queryset


class CountryFilter(InputFilter):
    title = "country"
    parameter_name = "country"
    placeholder = "ISO code, e.g. US"

    def filter(self, queryset, value):
        return queryset.filter(country=value.upper())


class FindingCodeFilter(InputFilter):
    title = "finding code"
    parameter_name = "finding_code"
    placeholder = "e.g. POLICY.EXCESSIVE_CAPS"

    def filter(self, queryset, value):
        # Codes are upper case (CATEGORY.NAME): typed in any case, as in the search.
        return queryset.filter(Exists(Finding.objects.filter(verdict__ad=OuterRef("pk"), code=value.upper())))


# The filters of every ads list (all ads, the review queue). Dates: submitted, judged by
# detailed validation (each one an index).
AD_FILTERS = (
    "retailer",
    CategoryFilter,
    CountryFilter,
    FindingCodeFilter,
    ("submitted_at", DateRangeFilter),
    ("reviewed_at", DateRangeFilter),
)


class FindingCodeInput(InputFilter):
    title = "code"
    parameter_name = "code"

    def filter(self, queryset, value):
        return queryset.filter(code=value.upper())


# A search term that can only be a finding code (CATEGORY.NAME), or part of an ad id.
_CODE_LIKE = re.compile(r"^[A-Za-z]+\.[A-Za-z_]+$")
_ID_PART = re.compile(r"^[0-9a-fA-F-]{4,35}$")


def ad_search(queryset, search_term: str):
    """The compliance admin's search, case-insensitive: an ad id or part of one, part of an
    external ref, headline or landing URL, part of a retailer's name, or a finding code. Each
    branch is one index (primary key, trigram indexes on PostgreSQL, retailer, finding code)."""
    term = search_term.strip()
    if not term:
        return queryset
    ad_id = parse_uuid(term)
    if ad_id:
        return queryset.filter(id=ad_id)
    if _CODE_LIKE.match(term):
        # Only the code: OR-ed with a text match, no index could serve the query.
        return queryset.filter(Exists(Finding.objects.filter(verdict__ad=OuterRef("pk"), code=term.upper())))
    matches = Q(external_ref__icontains=term) | Q(headline__icontains=term) | Q(landing_url__icontains=term)
    # Few retailers: their ids first, then the (retailer, submitted_at) index.
    retailers = list(Retailer.objects.filter(name__icontains=term).values_list("id", flat=True)[:100])
    if retailers:
        matches |= Q(retailer_id__in=retailers)
    if _ID_PART.match(term):
        queryset = queryset.annotate(id_text=Cast("id", TextField()))
        matches |= Q(id_text__icontains=term)
    return queryset.filter(matches)


def by_ad_id(queryset, search_term, lookup):
    """Search by an ad's id (an index lookup); anything else that is not an id finds nothing."""
    if not search_term.strip():
        return queryset, False
    ad_id = parse_uuid(search_term)
    return (queryset.filter(**{lookup: ad_id}) if ad_id else queryset.none()), False


class ChoiceFilter(admin.SimpleListFilter):
    """A filter of a few fixed options ({value: label}), each narrowing the list its way."""

    options: dict = {}

    def lookups(self, request, model_admin):
        return list(self.options.items())

    def queryset(self, request, queryset):
        return self.narrow(self.value(), queryset, request) if self.value() in self.options else queryset

    def narrow(self, value, queryset, request):
        raise NotImplementedError


class SlaFilter(ChoiceFilter):
    title = "SLA"
    parameter_name = "sla"
    options = {"overdue": "Overdue", "due_soon": "Due within 4 hours", "in_time": "Within the SLA"}
    since = "reviewed_at"  # when the item began to wait

    def narrow(self, value, queryset, request):
        deadline = timezone.now() - sla_hours()  # waiting since before this: overdue
        since = self.since
        if value == "overdue":
            return queryset.filter(**{f"{since}__lt": deadline})
        if value == "due_soon":
            return queryset.filter(**{f"{since}__gte": deadline, f"{since}__lt": deadline + timedelta(hours=4)})
        return queryset.filter(**{f"{since}__gte": deadline})


class ClaimFilter(ChoiceFilter):
    title = "being reviewed"
    parameter_name = "claim"
    options = {"free": "By nobody", "any": "By anyone", "mine": "By me", "others": "By someone else"}

    def narrow(self, value, queryset, request):
        active = ReviewClaim.objects.filter(ad=OuterRef("pk"), expires_at__gt=timezone.now())
        me = request.user.get_username()
        if value == "free":
            return queryset.exclude(Exists(active))
        if value == "any":  # what the index counts as "Being reviewed"
            return queryset.filter(Exists(active))
        mine = active.filter(reviewer=me)
        return queryset.filter(Exists(mine if value == "mine" else active.exclude(reviewer=me)))
