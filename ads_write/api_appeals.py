"""The appeals API: a retailer contests the verdict of one of its ads. A thin view over
services/appeals.py, with its request and response shapes and OpenAPI beside it."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from adplatform.admin_tools import parse_uuid
from adplatform.openapi import problem_example, problem_responses
from adplatform.problems import problem
from ads_read.serializers import AppealDocumentSerializer, appeal_document

from .idempotency import idempotent
from .services.appeals import appeal_submit

MAX_APPEAL_MESSAGE = 2000
EXAMPLE_APPEAL = {
    "id": "019abc12-9999-7def-8abc-0123456789ab",
    "status": "open",
    "message": "The licence number is in the disclosure: LIC-2291, issued by the state board.",
    "verdict_version": 2,
    "submitted_at": "2026-11-27T09:00:00Z",
    "decision": None,
}


class AppealInputSerializer(serializers.Serializer):
    message = serializers.CharField(
        min_length=1,
        max_length=MAX_APPEAL_MESSAGE,
        help_text="Why the verdict is wrong, for the reviewer: 1 to 2,000 characters.",
    )


class AdAppealCreateApi(APIView):
    @extend_schema(
        operation_id="ads_appeal",
        summary="Appeal the verdict of an ad",
        description="Contest the current verdict of a rejected ad, or of one decided by staff: a reviewer reads "
        "the message and decides, which gives the ad a new verdict version (webhook `ad.appeal_decided`). Once "
        "per verdict version. The appeal shows in the ad's `appeal` field from then on. Costs one unit of the "
        "rate limit like every request.",
        request=AppealInputSerializer,
        responses={
            201: AppealDocumentSerializer,
            **problem_responses(
                "appeal-not-allowed",
                "appeal-exists",
                path="/api/v1/ads/{id}/appeals",
                examples={
                    409: problem_example(
                        "appeal-not-allowed",
                        path="/api/v1/ads/019abc12-3456-7def-8abc-0123456789ab/appeals",
                        detail="Only a rejected ad, or one decided by staff, can be appealed; this one is approved.",
                    )
                },
            ),
        },
        examples=[
            OpenApiExample("An appeal", value={"message": EXAMPLE_APPEAL["message"]}, request_only=True),
            OpenApiExample("Appealed", value=EXAMPLE_APPEAL, response_only=True, status_codes=[201]),
        ],
    )
    @idempotent
    def post(self, request, ad_id):
        ad_uuid = parse_uuid(ad_id)
        if ad_uuid is None:
            raise problem("not-found", detail="No ad with this id for your account.")
        body = AppealInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        appeal = appeal_submit(caller=request.caller, ad_id=ad_uuid, message=body.validated_data["message"])
        location = reverse("ad-detail", kwargs={"ad_id": appeal.ad_id})
        return Response(appeal_document(appeal), status=status.HTTP_201_CREATED, headers={"Location": location})
