"""Command API: thin views that check input, call one service, and render the answer."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from adplatform.problems import Problem
from ads_read.selectors import ad_get
from ads_read.serializers import AdViewSerializer

from .serializers import AcceptedSerializer, AdInputSerializer
from .services import ads_submit
from .validation.basic import validate_basic


def check_body_size(request, limit: int) -> None:
    length = request.META.get("CONTENT_LENGTH") or "0"
    size = int(length) if length.isdigit() else len(request.body)
    if size > limit:
        raise Problem(
            status_code=413,
            slug="payload-too-large",
            title="The request body is too large.",
            detail=f"The body is {size} bytes; at most {limit} are accepted here.",
        )


def basic_validation_problem(errors) -> Problem:
    return Problem(
        status_code=400,
        slug="validation-error",
        title="The ad failed basic validation.",
        detail=f"{len(errors)} field error(s); nothing was accepted.",
        errors=[e.as_dict() for e in errors],
    )


class AdSubmitApi(APIView):
    @extend_schema(
        operation_id="ads_submit",
        request=AdInputSerializer,
        responses={201: AdViewSerializer, 202: AcceptedSerializer},
        summary="Submit an ad",
        description="Basic validation runs at once (400 with per-field errors); detailed validation follows. "
        "In the sync intake mode the answer is 201 with the final state; otherwise 202 with status pending.",
    )
    def post(self, request):
        check_body_size(request, settings.API_MAX_BODY_BYTES)
        result = validate_basic(request.data)
        if not result.ok:
            raise basic_validation_problem(result.errors)
        accepted = ads_submit(caller=request.caller, ads=[result.ad])[0]
        location = reverse("ad-detail", kwargs={"ad_id": accepted.id})
        if settings.AD_INTAKE_MODE == "sync":
            ad = ad_get(retailer_id=request.user.id, ad_id=accepted.id)
            return Response(AdViewSerializer(ad).data, status=status.HTTP_201_CREATED, headers={"Location": location})
        body = AcceptedSerializer(accepted).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})
