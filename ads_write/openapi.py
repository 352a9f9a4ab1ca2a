"""The command API's OpenAPI material: parameters, examples and each operation's
`extend_schema`, kept apart from the views (api.py) that they describe."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema

from adplatform.openapi import problem_example, problem_responses
from ads_read.openapi import EXAMPLE_AD_VIEW
from ads_read.serializers import AdViewSerializer

from .serializers import (
    AcceptedSerializer,
    AdInputSerializer,
    BatchInputSerializer,
    BatchProblemSerializer,
    BatchResponseSerializer,
    DryRunSerializer,
)

VALIDATE_ONLY = OpenApiParameter(
    "validate_only",
    bool,
    OpenApiParameter.QUERY,
    description="Dry run: basic and detailed validation, answered 200 with the status the ad would get and "
    "its findings; nothing is stored, published or audited. Duplicate-content and velocity checks need a real "
    "intake and are not run, nor is the external validator.",
)

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
EXAMPLE_FINDING = EXAMPLE_AD_VIEW["findings"][0]  # the rejected ad's finding


ads_submit_schema = extend_schema(
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

ads_submit_batch_schema = extend_schema(
    operation_id="ads_submit_batch",
    summary="Submit up to 1,000 ads at once",
    description="Each ad gets basic validation on its own: valid ones are accepted even when others fail. "
    "The answer has one result per item, in order: `{index, id, status}` when accepted, `{index, errors}` "
    "when not. 202 in the asynchronous intake modes (statuses pending), 201 in sync mode (final statuses); "
    "if no item passed, nothing is accepted and the answer is the 422 problem `batch-rejected` with the same "
    "results. More than 1,000 ads is the 422 problem `batch-too-large`; an ad over 64 KiB of JSON (the single "
    "ad's limit) is that item's `BASIC.TOO_LONG` error. Each ad costs one unit of the rate "
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
