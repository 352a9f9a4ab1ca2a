"""The query API's OpenAPI material: examples, filter parameters and each operation's
`extend_schema`, kept apart from the views (api.py) that they describe."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers

from . import selectors
from .selectors import STATS_DEFAULT_DAYS, STATS_MAX_DAYS
from .serializers import AdViewSerializer, DailyStatsSerializer

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
    "disclosure": "",
    "advertiser_license": "",
    "paid_for_by": "",
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
    "appeal": None,
    "paused": False,
    "withdrawn_at": None,
    "change": None,
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
    OpenApiParameter("paused", bool, description="`true`: only the ads you paused; `false`: only the others."),
]


_LIST_EXAMPLE = OpenApiExample("A page", value=EXAMPLE_AD_VIEW, response_only=True)  # spectacular makes it a page


ads_list_schema = extend_schema(
    operation_id="ads_list",
    parameters=AD_FILTERS,
    responses=AdViewSerializer(many=True),
    summary="List your ads, newest first",
    description="Filters combine with AND; an empty filter (`status=`) is a 400. Follow `next` (or send "
    "`next_cursor` as `cursor`) for the following page (cursor pagination, stable while new ads arrive); the last "
    "page has `next: null`. Example: `GET /api/v1/ads?status=rejected&country=US&page_size=100`.",
    examples=[_LIST_EXAMPLE],
)


ads_failed_list_schema = extend_schema(
    operation_id="ads_failed_list",
    responses=AdViewSerializer(many=True),
    summary="List your rejected ads",
    description="Your ads whose status is `rejected`, newest first, paged like `GET /api/v1/ads`.",
    examples=[_LIST_EXAMPLE],
)


ads_retrieve_schema = extend_schema(
    operation_id="ads_retrieve",
    parameters=[OpenApiParameter("ad_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The ad's id.")],
    responses=AdViewSerializer,
    summary="Read one ad: its status and findings",
    description="An accepted ad reads as `pending` at once, before its detailed validation ends. Another "
    "retailer's ad is not found.",
    examples=[OpenApiExample("A rejected ad", value=EXAMPLE_AD_VIEW, response_only=True)],
)


stats_daily_schema = extend_schema(
    operation_id="stats_daily",
    summary="Your ads per status and day",
    description="Counts of your ads by the UTC day they were submitted and their current status, for the days "
    "from `from` to `to` (both included; by default the last 30 days) that have any ads, newest first. "
    "Filled by the projections, so it follows the ads' statuses within moments.",
    parameters=[
        OpenApiParameter("from", OpenApiTypes.DATE, description="First day (default: 29 days before `to`)."),
        OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (default: today, UTC)."),
        OpenApiParameter("cursor", str, description="The page cursor: `next_cursor` of the previous page."),
        OpenApiParameter(
            "page_size",
            {"type": "integer", "minimum": 1, "maximum": STATS_MAX_DAYS},
            description=f"Days per page (default {STATS_DEFAULT_DAYS}, at most {STATS_MAX_DAYS}).",
        ),
    ],
    responses=inline_serializer(
        "Stats",
        fields={
            "from": serializers.DateField(),
            "to": serializers.DateField(),
            "results": DailyStatsSerializer(many=True),
            "next": serializers.URLField(allow_null=True, help_text="The following page's URL; null on the last."),
            "next_cursor": serializers.CharField(
                allow_null=True, help_text="The following page's `cursor`; null on the last page."
            ),
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
                "next_cursor": None,
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
