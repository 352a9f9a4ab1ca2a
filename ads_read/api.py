"""Query API: thin views over the selectors."""

from datetime import date

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from adplatform.problems import problem

from . import selectors
from .serializers import AdViewSerializer, DailyStatsSerializer

STATS_DEFAULT_DAYS = 30
STATS_MAX_DAYS = 366

EXAMPLE_AD_VIEW = {
    "id": "019abc12-3456-7def-8abc-0123456789ab",
    "status": "rejected",
    "external_ref": "SKU-1042-winter",
    "headline": "Fine cigars",
    "description": "Hand-rolled, aged five years.",
    "landing_url": "https://www.nimbus-store.example/cigars",
    "display_url": "nimbus-store.example/cigars",
    "country": "US",
    "language": "en",
    "category": "tobacco",
    "price": {"amount": "89.90", "currency": "USD"},
    "target_min_age": None,
    "starts_at": None,
    "ends_at": None,
    "findings": [
        {
            "code": "COMPLIANCE.PROHIBITED_CATEGORY",
            "category": "compliance",
            "severity": "reject",
            "message": "Category is prohibited.",
            "field": "category",
            "evidence": {"category": "tobacco"},
        }
    ],
    "ruleset_version": "2026-11.0",
    "submitted_at": "2026-11-26T10:00:00Z",
    "reviewed_at": "2026-11-26T10:00:01Z",
    "decided_at": None,
    "decision": None,
    "version": 2,
}
AD_FILTERS = [
    OpenApiParameter(
        "status",
        {"type": "array", "items": {"type": "string", "enum": list(selectors.STATUSES)}},
        explode=True,
        description="One or more statuses (repeat the parameter).",
    ),
    OpenApiParameter("category", str, description="A taxonomy code, e.g. `sports`."),
    OpenApiParameter("country", str, description="ISO 3166-1 alpha-2, e.g. `US`."),
    OpenApiParameter("external_ref", str, description="Your own reference of the ad."),
    OpenApiParameter("finding_code", str, description="Ads with this finding, e.g. `FRAUD.URL_SHORTENER`."),
    OpenApiParameter("submitted_after", OpenApiTypes.DATETIME, description="Submitted at or after this time."),
    OpenApiParameter("submitted_before", OpenApiTypes.DATETIME, description="Submitted before this time."),
]


class AdCursorPagination(CursorPagination):
    """Cursor pagination over time-ordered ids: stable while new ads arrive."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound as exc:  # DRF answers a bad cursor 404; it is a bad parameter
            raise ValidationError({self.cursor_query_param: [str(exc.detail)]}) from exc

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "example": "http://127.0.0.1:8000/api/v1/ads?cursor=cD0wMTlhYmMxMg%3D%3D",
                },
            },
        }


class StatsCursorPagination(AdCursorPagination):
    """Days, newest first; a day is unique in the results, so the cursor is exact."""

    ordering = "-day"
    page_size = STATS_DEFAULT_DAYS
    max_page_size = STATS_MAX_DAYS


def not_found(request):
    return problem("not-found", detail="No ad with this id for your account.")


class _AdListBase(APIView):
    pagination_class = AdCursorPagination

    def paginated(self, request, queryset):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(AdViewSerializer(page, many=True).data)


_LIST_EXAMPLE = OpenApiExample("A page", value=EXAMPLE_AD_VIEW, response_only=True)  # spectacular makes it a page


class AdListApi(_AdListBase):
    @extend_schema(
        operation_id="ads_list",
        parameters=AD_FILTERS,
        responses=AdViewSerializer(many=True),
        summary="List your ads, newest first",
        description="Filters combine with AND; follow `next` for the following page (cursor pagination, stable "
        "while new ads arrive). Example: `GET /api/v1/ads?status=rejected&country=US&page_size=100`.",
        examples=[_LIST_EXAMPLE],
    )
    def get(self, request):
        queryset = selectors.ad_list(retailer_id=request.user.id, filters=request.query_params)
        return self.paginated(request, queryset)


class AdFailedListApi(_AdListBase):
    @extend_schema(
        operation_id="ads_failed_list",
        responses=AdViewSerializer(many=True),
        summary="List your rejected ads",
        examples=[_LIST_EXAMPLE],
    )
    def get(self, request):
        return self.paginated(request, selectors.ad_failed_list(retailer_id=request.user.id))


class AdDetailApi(APIView):
    @extend_schema(
        operation_id="ads_retrieve",
        responses=AdViewSerializer,
        summary="Read one ad: its status and findings",
        description="An accepted ad reads as `pending` at once, before its detailed validation ends. Another "
        "retailer's ad is not found.",
        examples=[OpenApiExample("A rejected ad", value=EXAMPLE_AD_VIEW, response_only=True)],
    )
    def get(self, request, ad_id):
        ad = selectors.ad_get(retailer_id=request.user.id, ad_id=ad_id)
        if ad is None:
            raise not_found(request)
        return Response(AdViewSerializer(ad).data)


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

    @extend_schema(
        operation_id="stats_daily",
        summary="Your ads per status and day",
        description="Counts of your ads by the UTC day they were submitted and their current status, for the days "
        "from `from` to `to` (both included; by default the last 30 days) that have any ads, newest first. "
        "Filled by the projections, so it follows the ads' statuses within moments.",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (default: 29 days before `to`)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (default: today, UTC)."),
            OpenApiParameter("cursor", str, description="The page cursor, from `next`."),
            OpenApiParameter(
                "page_size", int, description=f"Days per page (default {STATS_DEFAULT_DAYS}, at most {STATS_MAX_DAYS})."
            ),
        ],
        responses=inline_serializer(
            "Stats",
            fields={
                "from": serializers.DateField(),
                "to": serializers.DateField(),
                "results": DailyStatsSerializer(many=True),
                "next": serializers.URLField(allow_null=True),
            },
        ),
        examples=[
            OpenApiExample(
                "Two days",
                response_only=True,
                value={
                    "from": "2026-10-28",
                    "to": "2026-11-26",
                    "next": None,
                    "results": [
                        {
                            "day": "2026-11-26",
                            "pending": 12,
                            "approved": 930,
                            "rejected": 41,
                            "needs_review": 17,
                            "total": 1000,
                        },
                        {
                            "day": "2026-11-25",
                            "pending": 0,
                            "approved": 450,
                            "rejected": 30,
                            "needs_review": 20,
                            "total": 500,
                        },
                    ],
                },
            )
        ],
    )
    def get(self, request):
        date_from, date_to = stats_range(request.query_params)
        queryset = selectors.stats_daily(retailer_id=request.user.id, date_from=date_from, date_to=date_to)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return Response(
            {
                "from": date_from.isoformat(),
                "to": date_to.isoformat(),
                "results": DailyStatsSerializer(page, many=True).data,
                "next": paginator.get_next_link(),
            }
        )
