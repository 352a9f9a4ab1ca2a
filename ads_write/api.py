"""Command API: thin views that check input, call one service, and render the answer."""

from datetime import UTC, datetime

import msgspec
from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from adplatform.openapi import problem_example, problem_responses
from adplatform.parsers import request_json
from adplatform.problems import problem
from ads_read.api import EXAMPLE_AD_VIEW
from ads_read.selectors import ad_get
from ads_read.serializers import AdViewSerializer

from .idempotency import idempotent
from .serializers import (
    AcceptedSerializer,
    AdInputSerializer,
    BatchInputSerializer,
    BatchProblemSerializer,
    BatchResponseSerializer,
    DryRunSerializer,
)
from .services.intake import ads_submit, ads_validate_only
from .validation.basic import validate_basic

VALIDATE_ONLY = OpenApiParameter(
    "validate_only",
    bool,
    OpenApiParameter.QUERY,
    description="Dry run: basic and detailed validation, answered 200 with the status the ad would get and "
    "its findings; nothing is stored, published or audited. Duplicate-content and velocity checks need a real "
    "intake and are not run, nor is the external validator.",
)
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}

EXAMPLE_AD = {
    "external_ref": "SKU-1042-winter",
    "headline": "Trail running shoes for winter",
    "description": "Grippy soles, waterproof uppers. Free returns within 30 days.",
    "landing_url": "https://www.nimbus-store.example/shoes/trail",
    "display_url": "nimbus-store.example/shoes",
    "country": "US",
    "language": "en",
    "category": "sports",
    "price": {"amount": "89.90", "currency": "USD"},
}
EXAMPLE_ID = "019abc12-3456-7def-8abc-0123456789ab"
EXAMPLE_FIELD_ERROR = {
    "field": "landing_url",
    "code": "BASIC.INVALID_URL",
    "message": "landing_url must be an absolute https:// URL.",
}
EXAMPLE_FINDING = {
    "code": "COMPLIANCE.PROHIBITED_CATEGORY",
    "category": "compliance",
    "severity": "reject",
    "message": "Category is prohibited.",
    "field": "category",
    "evidence": {"category": "tobacco"},
}


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


def _bad_batch(code: str, message: str):
    return problem(
        "bad-request",
        detail='The body must be {"ads": [ad, ...]}.',
        errors=[{"field": "ads", "code": code, "message": message}],
    )


def batch_items(request) -> list:
    """The `ads` of a batch body, checked for shape and size (not the ads themselves)."""
    document = request_json(request, max_bytes=settings.API_MAX_BATCH_BODY_BYTES)
    if not isinstance(document, dict) or not isinstance(document.get("ads"), list):
        raise _bad_batch("BASIC.REQUIRED", "Send an object with a list `ads`.")
    if set(document) != {"ads"}:
        raise _bad_batch("BASIC.UNKNOWN_FIELD", "Only `ads` is allowed at the top level.")
    items = document["ads"]
    if not items:
        raise _bad_batch("BASIC.REQUIRED", "Send at least one ad.")
    if len(items) > settings.API_MAX_BATCH_SIZE:
        raise problem("batch-too-large", detail=f"{len(items)} ads; at most {settings.API_MAX_BATCH_SIZE} per batch.")
    return items


class AdSubmitApi(APIView):
    @extend_schema(
        operation_id="ads_submit",
        summary="Submit an ad",
        description="Basic validation runs at once (400 with per-field errors); detailed validation follows. "
        "In the sync intake mode the answer is 201 with the final state; otherwise 202 with status pending, "
        "and the ad reads as pending by its id straight away. `validate_only=true` is a dry run (200).",
        parameters=[VALIDATE_ONLY],
        request=AdInputSerializer,
        responses={
            200: DryRunSerializer,
            201: AdViewSerializer,
            202: AcceptedSerializer,
            **problem_responses(
                "validation-error",
                "broker-unavailable",
                "intake-overloaded",
                path="/api/v1/ads",
                examples={
                    400: problem_example(
                        "validation-error",
                        detail="1 field error(s); nothing was accepted.",
                        errors=[EXAMPLE_FIELD_ERROR],
                    )
                },
            ),
        },
        examples=[
            OpenApiExample("An ad", value=EXAMPLE_AD, request_only=True),
            OpenApiExample(
                "Accepted",
                value={"id": EXAMPLE_ID, "status": "pending", "submitted_at": "2026-11-26T10:00:00Z"},
                response_only=True,
                status_codes=[202],
            ),
            OpenApiExample("Judged (sync intake mode)", value=EXAMPLE_AD_VIEW, response_only=True, status_codes=[201]),
            OpenApiExample(
                "Dry run",
                value={"status": "rejected", "findings": [EXAMPLE_FINDING], "ruleset_version": "2026-11.0"},
                response_only=True,
                status_codes=[200],
            ),
        ],
    )
    @idempotent
    def post(self, request):
        result = validate_basic(request_json(request, max_bytes=settings.API_MAX_BODY_BYTES))
        if not result.ok:
            raise basic_validation_problem(result.errors)
        if validate_only_requested(request):
            verdict = ads_validate_only(retailer=request.user, ads=[result.ad])[0]
            return Response(verdict.as_dict())
        accepted = ads_submit(caller=request.caller, ads=[result.ad])[0]
        location = reverse("ad-detail", kwargs={"ad_id": accepted.id})
        if settings.AD_INTAKE_MODE == "sync":
            ad = ad_get(retailer_id=request.user.id, ad_id=accepted.id)
            return Response(AdViewSerializer(ad).data, status=status.HTTP_201_CREATED, headers={"Location": location})
        body = AcceptedSerializer(accepted).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


class AdBatchSubmitApi(APIView):
    def rate_limit_cost(self, request) -> int:
        """One unit of the rate limit per ad (see kernel/ratelimit.py)."""
        try:
            return len(batch_items(request))
        except APIException:
            return 1  # a bad body: the handler answers it

    @extend_schema(
        operation_id="ads_submit_batch",
        summary="Submit up to 1,000 ads at once",
        description="Each ad gets basic validation on its own: valid ones are accepted even when others fail. "
        "The answer has one result per item, in order: `{index, id, status}` when accepted, `{index, errors}` "
        "when not. 202 in the asynchronous intake modes (statuses pending), 201 in sync mode (final statuses); "
        "if no item passed, nothing is accepted and the answer is the 422 problem `batch-rejected` with the same "
        "results. More than 1,000 ads is the 422 problem `batch-too-large`. Each ad costs one unit of the rate "
        "limit. `validate_only=true` is a dry run for every item (200).",
        parameters=[VALIDATE_ONLY],
        request=BatchInputSerializer,
        responses={
            200: BatchResponseSerializer,
            201: BatchResponseSerializer,
            202: BatchResponseSerializer,
            **problem_responses(
                "batch-rejected",
                "batch-too-large",
                "cost-exceeds-rate-limit",
                "broker-unavailable",
                "intake-overloaded",
                path="/api/v1/ads/batch",
                serializer=BatchProblemSerializer,
                examples={
                    422: problem_example(
                        "batch-rejected",
                        path="/api/v1/ads/batch",
                        detail="None of 1 ad(s) passed basic validation.",
                        results=[{"index": 0, "errors": [EXAMPLE_FIELD_ERROR]}],
                    ),
                },
            ),
        },
        examples=[
            OpenApiExample(
                "Two ads",
                value={"ads": [EXAMPLE_AD, {**EXAMPLE_AD, "landing_url": "http://insecure.example"}]},
                request_only=True,
            ),
            OpenApiExample(
                "One accepted, one failed",
                value={
                    "accepted_count": 1,
                    "failed_count": 1,
                    "results": [
                        {"index": 0, "id": EXAMPLE_ID, "status": "pending"},
                        {"index": 1, "errors": [EXAMPLE_FIELD_ERROR]},
                    ],
                },
                response_only=True,
                status_codes=[202],
            ),
            OpenApiExample(
                "Judged (sync intake mode)",
                value={
                    "accepted_count": 1,
                    "failed_count": 1,
                    "results": [
                        {"index": 0, "id": EXAMPLE_ID, "status": "approved"},
                        {"index": 1, "errors": [EXAMPLE_FIELD_ERROR]},
                    ],
                },
                response_only=True,
                status_codes=[201],
            ),
            OpenApiExample(
                "Dry run",
                value={
                    "accepted_count": 1,
                    "failed_count": 1,
                    "results": [
                        {"index": 0, "status": "approved", "findings": [], "ruleset_version": "2026-11.0"},
                        {"index": 1, "errors": [EXAMPLE_FIELD_ERROR]},
                    ],
                },
                response_only=True,
                status_codes=[200],
            ),
        ],
    )
    @idempotent
    def post(self, request):
        items = batch_items(request)
        dry_run = validate_only_requested(request)
        now = datetime.now(UTC)  # one clock reading for the whole batch
        results: list[dict] = []
        valid: list[tuple[int, dict]] = []
        for index, item in enumerate(items):
            checked = validate_basic(item, now=now)
            if checked.ok:
                valid.append((index, checked.ad))
                results.append({"index": index})
            else:
                results.append({"index": index, "errors": [e.as_dict() for e in checked.errors]})
        ads = [ad for _, ad in valid]
        if dry_run:
            for (index, _), verdict in zip(valid, ads_validate_only(retailer=request.user, ads=ads), strict=True):
                results[index].update(verdict.as_dict())
            return json_response(_batch_body(results, len(valid)), status_code=status.HTTP_200_OK)
        if not valid:
            raise problem(
                "batch-rejected", detail=f"None of {len(items)} ad(s) passed basic validation.", results=results
            )
        for (index, _), accepted in zip(valid, ads_submit(caller=request.caller, ads=ads), strict=True):
            results[index].update(id=str(accepted.id), status=accepted.status)
        code = status.HTTP_201_CREATED if settings.AD_INTAKE_MODE == "sync" else status.HTTP_202_ACCEPTED
        return json_response(_batch_body(results, len(valid)), status_code=code)


def _batch_body(results: list[dict], accepted: int) -> dict:
    return {"accepted_count": accepted, "failed_count": len(results) - accepted, "results": results}
