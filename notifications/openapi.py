"""The notification API's OpenAPI material: examples and each operation's `extend_schema`,
kept apart from the views (api.py) that they describe."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from .serializers import (
    RetailerSettingsSerializer,
    WebhookDeliveryFilterSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointSerializer,
)

EXAMPLE_ENDPOINT = {
    "id": "019abc20-1111-7def-8abc-0123456789ab",
    "url": "https://hooks.nimbus-store.example/adplatform",
    "events": ["ad.decided", "ad.rejected"],
    "created_at": "2026-11-26T09:00:00Z",
}
EXAMPLE_DELIVERY = {
    "id": 4711,
    "event_id": "019abc12-9999-7def-8abc-0123456789ab",
    "event_type": "ad.rejected",
    "ad_id": "019abc12-3456-7def-8abc-0123456789ab",
    "version": 2,
    "status": "pending",
    "attempts": 2,
    "next_attempt_at": "2026-11-26T10:01:30Z",
    "first_attempt_at": "2026-11-26T10:00:01Z",
    "last_attempt_at": "2026-11-26T10:00:31Z",
    "last_status_code": 503,
    "last_error": "HTTP 503",
    "delivered_at": None,
    "created_at": "2026-11-26T10:00:01Z",
}
EXAMPLE_SETTINGS = {"report_contacts": ["ads@nimbus-store.example"], "timezone": "Europe/Berlin"}
EXAMPLE_CSV = (
    "status,ad_id,external_ref,submitted_at,decided_at,headline,landing_url,finding_code,finding_message\r\n"
    "rejected,019abc12-3456-7def-8abc-0123456789ab,SKU-1042-winter,2026-11-25T11:00:00+01:00,2026-11-25T11:00:01+01:00,"
    "Fine cigars,https://www.nimbus-store.example/cigars,COMPLIANCE.PROHIBITED_CATEGORY,Category is prohibited.\r\n"
)


webhooks_list_schema = extend_schema(
    operation_id="webhooks_list",
    responses=WebhookEndpointSerializer(many=True),
    summary="List your webhook endpoints, in the order registered",
    description="Your endpoints (without their secrets), oldest first, paged like every list: follow `next` or "
    "send `next_cursor` as `cursor`.",
    examples=[OpenApiExample("A page", value=EXAMPLE_ENDPOINT, response_only=True)],
)


webhooks_create_schema = extend_schema(
    operation_id="webhooks_create",
    request=WebhookEndpointInputSerializer,
    responses={201: WebhookEndpointCreatedSerializer},
    summary="Register a webhook endpoint",
    description="The answer carries the endpoint's signing secret; it is shown only this once.",
    examples=[
        OpenApiExample(
            "An endpoint",
            value={"url": EXAMPLE_ENDPOINT["url"], "events": EXAMPLE_ENDPOINT["events"]},
            request_only=True,
        ),
        OpenApiExample(
            "Registered",
            value={**EXAMPLE_ENDPOINT, "secret": "whsec_3q2-7wE9xKfV0aLmN4pR8sTuYb1cDg6h"},
            response_only=True,
            status_codes=[201],
        ),
    ],
)


webhooks_retrieve_schema = extend_schema(
    operation_id="webhooks_retrieve",
    responses=WebhookEndpointSerializer,
    summary="Read a webhook endpoint",
    description="One of your endpoints, without its secret. Another retailer's endpoint is not found.",
    examples=[OpenApiExample("An endpoint", value=EXAMPLE_ENDPOINT, response_only=True)],
)


webhooks_destroy_schema = extend_schema(
    operation_id="webhooks_destroy",
    responses={204: None},
    summary="Delete a webhook endpoint and its pending deliveries",
    description="Nothing more is sent to it; its pending deliveries are dropped. Another retailer's endpoint is "
    "not found.",
)


webhooks_deliveries_list_schema = extend_schema(
    operation_id="webhooks_deliveries_list",
    parameters=[WebhookDeliveryFilterSerializer],
    responses=WebhookDeliverySerializer(many=True),
    summary="List an endpoint's deliveries, newest first (status: pending, delivered, failed)",
    description="Each delivery is one event for one ad version, with its attempts, the last answer's status and "
    "error, and when it is tried next. Filter with `status`; paged like every list.",
    examples=[OpenApiExample("A page", value=EXAMPLE_DELIVERY, response_only=True)],
)


reports_failed_ads_csv_schema = extend_schema(
    operation_id="reports_failed_ads_csv",
    parameters=[
        OpenApiParameter(
            "date", OpenApiTypes.DATE, required=True, description="The day (YYYY-MM-DD) in your time zone."
        )
    ],
    responses={
        # A text body: `format: binary` made generated clients decode it as a file and fail.
        (200, "text/csv"): OpenApiResponse(
            OpenApiTypes.STR, description="The CSV (UTF-8, CRLF line ends), the same bytes as the mailed report."
        )
    },
    summary="Download the failed-ads CSV of one day",
    description="The ads that ended `rejected` on that day in your time zone, then those held for review that "
    "day and still open; one row per finding. Streamed, whatever its size. The day must lie within the calendar "
    "(years 1 to 9999) in your time zone.",
    examples=[OpenApiExample("One rejected ad", value=EXAMPLE_CSV, response_only=True, media_type="text/csv")],
)


settings_retrieve_schema = extend_schema(
    operation_id="settings_retrieve",
    responses=RetailerSettingsSerializer,
    summary="Read your notification settings",
    description="Where the daily failed-ads report goes (`report_contacts`) and the time zone its days follow.",
    examples=[OpenApiExample("Settings", value=EXAMPLE_SETTINGS, response_only=True)],
)


settings_partial_update_schema = extend_schema(
    operation_id="settings_partial_update",
    request=RetailerSettingsSerializer,
    responses=RetailerSettingsSerializer,
    summary="Change your report contacts and time zone",
    description="Send either field or both; unknown fields are a 400. At most 20 contacts (duplicates, compared "
    "without case, are dropped); `timezone` is an IANA name.",
    examples=[
        OpenApiExample(
            "New contacts", value={"report_contacts": EXAMPLE_SETTINGS["report_contacts"]}, request_only=True
        ),
        OpenApiExample("Settings", value=EXAMPLE_SETTINGS, response_only=True),
    ],
)
