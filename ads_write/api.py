"""Command API: thin views that check input, call one service, and render the answer."""

import functools

import msgspec
from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from adplatform.parsers import request_body, request_json
from adplatform.problems import problem
from ads_read.selectors import ad_get
from ads_read.serializers import AdViewSerializer

from . import openapi
from .batch_body import batch_ads
from .idempotency import idempotent
from .serializers import AcceptedSerializer
from .services.batches import ads_submit_batch
from .services.intake import ads_submit, ads_validate_only
from .validation.basic import validate_basic

_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


def validate_only_requested(request) -> bool:
    value = request.query_params.get("validate_only", "false").lower()
    if value not in _TRUE | _FALSE:
        raise ValidationError({"validate_only": ["Must be true or false."]})
    return value in _TRUE


def basic_validation_problem(errors):
    return problem(
        "validation-error",
        detail=f"{len(errors)} field error(s); nothing was accepted.",
        errors=[e.as_dict() for e in errors],
    )


def json_response(body, *, status_code: int) -> HttpResponse:
    """JSON rendered by msgspec: DRF's renderer is several times slower on a batch answer."""
    return HttpResponse(msgspec.json.encode(body), status=status_code, content_type="application/json")


def batch_items(request) -> list:
    """The ads of a batch body as slices of it, checked for shape and count (batch_body.py)."""
    decode = functools.partial(batch_ads, max_ads=settings.API_MAX_BATCH_SIZE)
    return request_json(request, max_bytes=settings.API_MAX_BATCH_BODY_BYTES, decode=decode)


class AdSubmitApi(APIView):
    @openapi.ads_submit_schema
    @idempotent
    def post(self, request):
        result = validate_basic(request_json(request, max_bytes=settings.API_MAX_BODY_BYTES))
        if not result.ok:
            raise basic_validation_problem(result.errors)
        if validate_only_requested(request):
            verdict = ads_validate_only(retailer=request.caller.retailer, ads=[result.ad])[0]
            return Response(verdict.as_dict())
        accepted = ads_submit(caller=request.caller, ads=[result.ad])[0]
        location = reverse("ad-detail", kwargs={"ad_id": accepted.id})
        if settings.AD_INTAKE_MODE == "sync":
            ad = ad_get(retailer_id=request.caller.retailer.id, ad_id=accepted.id)
            return Response(AdViewSerializer(ad).data, status=status.HTTP_201_CREATED, headers={"Location": location})
        body = AcceptedSerializer(accepted).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class AdBatchSubmitApi(APIView):
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Read under the batch limit before @idempotent's fingerprint reads `request.body`,
        # which Django holds to the smaller DATA_UPLOAD_MAX_MEMORY_SIZE.
        request_body(request, max_bytes=settings.API_MAX_BATCH_BODY_BYTES)

    def rate_limit_cost(self, request) -> int:
        """One unit of the rate limit per ad (see kernel/ratelimit.py)."""
        try:
            return len(batch_items(request))
        except APIException:
            return 1  # a bad body: the handler answers it

    @openapi.ads_submit_batch_schema
    @idempotent
    def post(self, request):
        items = batch_items(request)
        dry_run = validate_only_requested(request)
        outcome = ads_submit_batch(caller=request.caller, items=items, dry_run=dry_run)
        if dry_run:
            code = status.HTTP_200_OK
        else:
            code = status.HTTP_201_CREATED if settings.AD_INTAKE_MODE == "sync" else status.HTTP_202_ACCEPTED
        return json_response(outcome.as_dict(), status_code=code)
