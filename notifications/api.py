"""Notification API: webhook endpoints and their deliveries, the failed-ads CSV, and the
retailer's notification settings. Thin views over the services and selectors."""

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from adplatform.problems import Problem, problem
from ads_read.api import AdCursorPagination
from ads_read.reports import FailedAdsReport, parse_report_date, report_filename
from ads_write.idempotency import idempotent

from . import selectors
from .serializers import (
    RetailerSettingsSerializer,
    WebhookDeliveryFilterSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointSerializer,
)
from .services import retailer_settings, webhook_deliveries

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


class WebhookEndpointCursorPagination(AdCursorPagination):
    """In the order registered: the ids are time-ordered (UUIDv7)."""

    ordering = "id"


def _not_found() -> Problem:
    return problem("not-found", detail="No webhook endpoint with this id for your account.")


def _endpoint_or_404(request, endpoint_id):
    endpoint = selectors.webhook_endpoint_get(retailer_id=request.user.id, endpoint_id=endpoint_id)
    if endpoint is None:
        raise _not_found()
    return endpoint


class WebhookListApi(APIView):
    pagination_class = WebhookEndpointCursorPagination  # every list pages the same way, however short

    @extend_schema(
        operation_id="webhooks_list",
        responses=WebhookEndpointSerializer(many=True),
        summary="List your webhook endpoints, in the order registered",
        examples=[OpenApiExample("A page", value=EXAMPLE_ENDPOINT, response_only=True)],
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.webhook_endpoint_list(retailer_id=request.user.id), request, view=self
        )
        return paginator.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)


class WebhookCreateApi(APIView):
    @extend_schema(
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
    @idempotent
    def post(self, request):
        data = WebhookEndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            endpoint = webhook_deliveries.webhook_endpoint_create(
                retailer=request.user, actor=request.caller.actor, **data.validated_data
            )
        except webhook_deliveries.WebhookError as exc:
            raise problem("webhook-rejected", detail=str(exc)) from exc
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    @extend_schema(
        operation_id="webhooks_retrieve",
        responses=WebhookEndpointSerializer,
        summary="Read a webhook endpoint",
        examples=[OpenApiExample("An endpoint", value=EXAMPLE_ENDPOINT, response_only=True)],
    )
    def get(self, request, endpoint_id):
        return Response(WebhookEndpointSerializer(_endpoint_or_404(request, endpoint_id)).data)


class WebhookDeleteApi(APIView):
    @extend_schema(
        operation_id="webhooks_destroy",
        responses={204: None},
        summary="Delete a webhook endpoint and its pending deliveries",
    )
    def delete(self, request, endpoint_id):
        if not webhook_deliveries.webhook_endpoint_delete(
            retailer=request.user, endpoint_id=endpoint_id, actor=request.caller.actor
        ):
            raise _not_found()
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListApi(APIView):
    pagination_class = AdCursorPagination  # the same scheme: newest first by a rising id

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        parameters=[WebhookDeliveryFilterSerializer],
        responses=WebhookDeliverySerializer(many=True),
        summary="List an endpoint's deliveries, newest first (status: pending, delivered, failed)",
        examples=[OpenApiExample("A page", value=EXAMPLE_DELIVERY, response_only=True)],
    )
    def get(self, request, endpoint_id):
        endpoint = _endpoint_or_404(request, endpoint_id)
        filters = WebhookDeliveryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.webhook_delivery_list(endpoint=endpoint, status=filters.validated_data.get("status")),
            request,
            view=self,
        )
        return paginator.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class _FirstRenderer(BaseContentNegotiation):
    """Success is a CSV stream whatever the client accepts; errors are problem JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ReportFailedAdsCsvApi(APIView):
    content_negotiation_class = _FirstRenderer

    @extend_schema(
        operation_id="reports_failed_ads_csv",
        parameters=[
            OpenApiParameter(
                "date", OpenApiTypes.DATE, required=True, description="The day (YYYY-MM-DD) in your time zone."
            )
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The CSV, the same bytes as the mailed report."
            )
        },
        summary="Download the failed-ads CSV of one day",
        examples=[OpenApiExample("One rejected ad", value=EXAMPLE_CSV, response_only=True, media_type="text/csv")],
    )
    def get(self, request):
        try:
            day = parse_report_date(request.query_params.get("date", ""))
        except ValueError as exc:
            raise problem(
                "invalid-date", detail=str(exc), errors=[{"field": "date", "code": "invalid", "message": str(exc)}]
            ) from exc
        report = FailedAdsReport(retailer_id=request.user.id, day=day, tz=request.user.timezone)
        response = StreamingHttpResponse(report.chunks(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{report_filename(day=day)}"'
        return response


class RetailerSettingsDetailApi(APIView):
    @extend_schema(
        operation_id="settings_retrieve",
        responses=RetailerSettingsSerializer,
        summary="Read your notification settings",
        examples=[OpenApiExample("Settings", value=EXAMPLE_SETTINGS, response_only=True)],
    )
    def get(self, request):
        return Response(RetailerSettingsSerializer(request.user).data)


class RetailerSettingsUpdateApi(APIView):
    @extend_schema(
        operation_id="settings_partial_update",
        request=RetailerSettingsSerializer,
        responses=RetailerSettingsSerializer,
        summary="Change your report contacts and time zone",
        examples=[
            OpenApiExample(
                "New contacts", value={"report_contacts": EXAMPLE_SETTINGS["report_contacts"]}, request_only=True
            ),
            OpenApiExample("Settings", value=EXAMPLE_SETTINGS, response_only=True),
        ],
    )
    def patch(self, request):
        data = RetailerSettingsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        retailer = retailer_settings.retailer_settings_update(
            retailer=request.user,
            actor=request.caller.actor,
            report_contacts=data.validated_data.get("report_contacts"),
            timezone_name=data.validated_data.get("timezone"),
        )
        return Response(RetailerSettingsSerializer(retailer).data)
