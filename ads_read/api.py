"""Query API: thin views over the selectors."""

from datetime import date

from django.db import connections, router
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from adplatform.kernel.replica import primary_if_replica_fails
from adplatform.pagination import StrictCursorPagination, refuse_empty_parameters
from adplatform.problems import problem

from . import openapi, selectors
from .models import AdView
from .selectors import STATS_DEFAULT_DAYS, STATS_MAX_DAYS
from .serializers import (
    AdViewSerializer,
    DailyStatsSerializer,
    DocumentRenderer,
    document_response,
    documents_page,
    stored_document,
)


class AdCursorPagination(StrictCursorPagination):
    """Cursor pagination over time-ordered ids: stable while new ads arrive."""

    ordering = "-id"


class StatsCursorPagination(AdCursorPagination):
    """Days, newest first; a day is unique in the results, so the cursor is exact."""

    ordering = "-day"
    page_size = STATS_DEFAULT_DAYS
    max_page_size = STATS_MAX_DAYS


def not_found(request):
    return problem("not-found", detail="No ad with this id for your account.")


class _AdListBase(APIView):
    pagination_class = AdCursorPagination
    renderer_classes = [DocumentRenderer]

    def paginated(self, request, queryset):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return self.page_response(request, paginator, page, using=queryset.db)

    def paged(self, request, *, statuses=None):
        """An unfiltered list's page, by its own statement (selectors.ad_page)."""
        paginator = self.pagination_class()

        def fetch(**at):
            return selectors.ad_page(retailer_id=request.caller.retailer.id, statuses=statuses, **at)

        return self.page_response(request, paginator, paginator.paginate_rows(fetch, request, model=AdView))

    def page_response(self, request, paginator, page, *, using=None):
        """The page joined from the ads' stored documents: no serializer runs per ad."""
        missing = [row["id"] for row in page if row["document"] is None]
        if missing:  # rows projected before documents were stored: rendered from their columns
            using = using or router.db_for_read(AdView) or "default"
            rows = selectors.ad_rows_by_id(ad_ids=missing, using=using)
            vendor = connections[using].vendor
            for row in page:
                if row["document"] is None:
                    row["document"] = stored_document(rows[row["id"]], vendor=vendor)
        return document_response(request, documents_page([row["document"] for row in page], paginator.page_links()))


class AdListApi(_AdListBase):
    @openapi.ads_list_schema
    @primary_if_replica_fails
    def get(self, request):
        refuse_empty_parameters(request.query_params, selectors.AdFilter.base_filters)
        if not selectors.filters_given(request.query_params):
            return self.paged(request)
        statuses = selectors.statuses_only(request.query_params)
        if statuses:  # the most common filter, by the same statement
            return self.paged(request, statuses=statuses)
        queryset = selectors.ad_list(retailer_id=request.caller.retailer.id, filters=request.query_params)
        return self.paginated(request, queryset)


class AdFailedListApi(_AdListBase):
    @openapi.ads_failed_list_schema
    @primary_if_replica_fails
    def get(self, request):
        return self.paged(request, statuses=selectors.FAILED_STATUSES)


class AdDetailApi(APIView):
    renderer_classes = [DocumentRenderer]

    @openapi.ads_retrieve_schema
    def get(self, request, ad_id):
        ad = selectors.ad_document_get(retailer_id=request.caller.retailer.id, ad_id=ad_id)
        if ad is None:
            raise not_found(request)
        # The version is the ad's ETag: a change names it in If-Match (ads_write/api_commands.py).
        if isinstance(ad, selectors.StoredAd):  # the answer as the projection stored it
            return document_response(request, ad.document, headers={"ETag": f'"{ad.version}"'})
        body = AdViewSerializer(ad).data
        return Response(body, headers={"ETag": f'"{body["version"]}"'})


def stats_range(params) -> tuple[date, date]:
    """`from` and `to` (ISO dates, both included); by default the last 30 days to today (UTC)."""
    errors = {}

    def parse(name):
        try:
            return date.fromisoformat(params[name]) if name in params else None
        except ValueError:
            errors[name] = ["Must be a date, YYYY-MM-DD."]
            return None

    date_to, date_from = parse("to"), parse("from")
    if errors:
        raise ValidationError(errors)
    date_to = date_to or timezone.now().date()
    if date_from is None:
        date_from = date.fromordinal(max(1, date_to.toordinal() - (STATS_DEFAULT_DAYS - 1)))
    if date_from > date_to:
        raise ValidationError({"from": ["Must not be after `to`."]})
    if (date_to - date_from).days >= STATS_MAX_DAYS:
        raise ValidationError({"from": [f"At most {STATS_MAX_DAYS} days from `from` to `to`."]})
    return date_from, date_to


class StatsListApi(APIView):
    pagination_class = StatsCursorPagination

    @openapi.stats_daily_schema
    @primary_if_replica_fails
    def get(self, request):
        date_from, date_to = stats_range(request.query_params)
        queryset = selectors.stats_daily(retailer_id=request.caller.retailer.id, date_from=date_from, date_to=date_to)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return Response(
            {
                "from": date_from.isoformat(),
                "to": date_to.isoformat(),
                "results": DailyStatsSerializer(page, many=True).data,
                **paginator.page_links(),
            }
        )
