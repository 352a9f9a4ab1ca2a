"""Notification API: webhook endpoints and their deliveries, the failed-ads CSV, and the
retailer's notification settings. Thin views over the services and selectors."""

import itertools
from datetime import UTC

from django.http import StreamingHttpResponse
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from adplatform.pagination import refuse_empty_parameters
from adplatform.problems import Problem, problem
from ads_read.api import AdCursorPagination
from ads_read.reports import FailedAdsReport, day_window, parse_report_date, report_filename
from ads_write.idempotency import idempotent

from . import openapi, selectors
from .serializers import (
    RetailerSettingsSerializer,
    WebhookDeliveryFilterSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointInputSerializer,
    WebhookEndpointSerializer,
)
from .services import retailer_settings, webhook_deliveries


class WebhookEndpointCursorPagination(AdCursorPagination):
    """In the order registered: the ids are time-ordered (UUIDv7)."""

    ordering = "id"


def _not_found() -> Problem:
    return problem("not-found", detail="No webhook endpoint with this id for your account.")


def _endpoint_or_404(request, endpoint_id):
    endpoint = selectors.webhook_endpoint_get(retailer_id=request.caller.retailer.id, endpoint_id=endpoint_id)
    if endpoint is None:
        raise _not_found()
    return endpoint


class WebhookListApi(APIView):
    pagination_class = WebhookEndpointCursorPagination  # every list pages the same way, however short

    @openapi.webhooks_list_schema
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.webhook_endpoint_list(retailer_id=request.caller.retailer.id), request, view=self
        )
        return paginator.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)


class WebhookCreateApi(APIView):
    @openapi.webhooks_create_schema
    @idempotent
    def post(self, request):
        data = WebhookEndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            endpoint = webhook_deliveries.webhook_endpoint_create(
                retailer=request.caller.retailer, actor=request.caller.actor, **data.validated_data
            )
        except webhook_deliveries.WebhookError as exc:
            raise problem("webhook-rejected", detail=str(exc)) from exc
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    @openapi.webhooks_retrieve_schema
    def get(self, request, endpoint_id):
        return Response(WebhookEndpointSerializer(_endpoint_or_404(request, endpoint_id)).data)


class WebhookDeleteApi(APIView):
    @openapi.webhooks_destroy_schema
    def delete(self, request, endpoint_id):
        if not webhook_deliveries.webhook_endpoint_delete(
            retailer=request.caller.retailer, endpoint_id=endpoint_id, actor=request.caller.actor
        ):
            raise _not_found()
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListApi(APIView):
    pagination_class = AdCursorPagination  # the same scheme: newest first by a rising id

    @openapi.webhooks_deliveries_list_schema
    def get(self, request, endpoint_id):
        endpoint = _endpoint_or_404(request, endpoint_id)
        refuse_empty_parameters(request.query_params, ["status"])
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

    @openapi.reports_failed_ads_csv_schema
    def get(self, request):
        try:
            day = parse_report_date(request.query_params.get("date", ""))
        except ValueError as exc:
            raise problem(
                "invalid-date", detail=str(exc), errors=[{"field": "date", "code": "invalid", "message": str(exc)}]
            ) from exc
        try:  # the day's bounds in UTC, as the database compares them
            for moment in day_window(day=day, tz=request.caller.retailer.timezone):
                moment.astimezone(UTC)
        except OverflowError as exc:  # 9999-12-31 everywhere, 0001-01-01 east of UTC
            detail = (
                f"{day.isoformat()} in {request.caller.retailer.timezone} lies outside the calendar the reports cover."
            )
            raise problem(
                "invalid-date", detail=detail, errors=[{"field": "date", "code": "out_of_range", "message": detail}]
            ) from exc
        report = FailedAdsReport(retailer_id=request.caller.retailer.id, day=day, tz=request.caller.retailer.timezone)
        chunks = report.chunks()
        # The first chunk is made before answering: a failure of the query is then a problem
        # answer, not a stream cut off after its 200.
        first = next(chunks)
        response = StreamingHttpResponse(itertools.chain([first], chunks), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{report_filename(day=day)}"'
        return response


class RetailerSettingsDetailApi(APIView):
    @openapi.settings_retrieve_schema
    def get(self, request):
        return Response(RetailerSettingsSerializer(request.caller.retailer).data)


class RetailerSettingsUpdateApi(APIView):
    @openapi.settings_partial_update_schema
    def patch(self, request):
        data = RetailerSettingsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        retailer = retailer_settings.retailer_settings_update(
            retailer=request.caller.retailer,
            actor=request.caller.actor,
            report_contacts=data.validated_data.get("report_contacts"),
            timezone_name=data.validated_data.get("timezone"),
        )
        return Response(RetailerSettingsSerializer(retailer).data)
