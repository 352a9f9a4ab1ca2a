"""The command API's OpenAPI material: parameters, examples and each operation's
`extend_schema`, kept apart from the views (api.py) that they describe."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema

from adplatform.openapi import IDEMPOTENCY_KEY, problem_example, problem_responses
from ads_read.openapi import EXAMPLE_AD_VIEW
from ads_read.serializers import AdViewSerializer

from .serializers import (
    AcceptedSerializer,
    AdChangeInputSerializer,
    AdIdsInputSerializer,
    AdInputSerializer,
    BatchCommandResponseSerializer,
    BatchInputSerializer,
    BatchProblemSerializer,
    BatchResponseSerializer,
    CommandResultSerializer,
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


# --- the retailer's commands (api_commands.py) --------------------------------------------------
EXAMPLE_AD_PATH = f"/api/v1/ads/{EXAMPLE_ID}"
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description='The ad\'s `ETag` from your last read, e.g. `"3"`: the command applies only to that version '
    "(412 `precondition-failed` otherwise).",
)
IDEMPOTENCY_KEY_PATCH = OpenApiParameter(
    "Idempotency-Key",
    IDEMPOTENCY_KEY["schema"],
    OpenApiParameter.HEADER,
    description="Makes the change safe to retry: the first answer is replayed for 24 hours, as for a POST.",
)
EXAMPLE_CHANGE_ACCEPTED = {
    "id": EXAMPLE_ID,
    "version": 3,
    "status": "approved",
    "paused": False,
    "change": {"version": 3, "status": "pending", "fields": ["headline", "price"]},
    "note": "The change is judged as a new ad is; until its verdict the ad shows, and an approved ad keeps "
    "serving, its last judged version. Read the ad (or hear `ad.changed`) for the verdict.",
}
_COMMAND_WORDS = {
    "pause": (
        "Pause an ad",
        "An approved ad stays approved but is not live until resumed (webhook `ad.paused`). Pausing a paused ad "
        "changes nothing. Not for a withdrawn ad, nor one still waiting for its first judgement.",
    ),
    "resume": (
        "Resume a paused ad",
        "An approved ad is live again (webhook `ad.resumed`). Resuming an ad that is not paused changes nothing.",
    ),
    "withdraw": (
        "Withdraw an ad",
        "Final: the ad is no longer live, leaves the review queue if it was held, and cannot change again "
        "(webhook `ad.withdrawn`). A withdrawn ad is not a failed ad. Any ad but a withdrawn one.",
    ),
}
_ASYNC = (
    " In the sync intake mode the answer is 200; otherwise 202, and the read side shows the new version shortly "
    "(in `direct` mode the write side stores it first: the `version` is the one it will have)."
)

ads_change_schema = extend_schema(
    operation_id="ads_change",
    summary="Change an ad",
    description="Send only the fields to change (`null` removes an optional one) with `If-Match`: the ad's "
    "`ETag`. The content it makes gets basic validation at once (400, as for a new ad), then detailed validation: "
    "a new version, judged as a new ad is. **Until the change is judged, the ad shows its last judged content, "
    "and an approved ad keeps serving its last approved version**; the read document's `change` names the change "
    "being judged. Its verdict is the ad's next version (webhook `ad.changed`, and `ad.approved`/`ad.rejected`/"
    "`ad.needs_review` to their subscribers). A change of an ad whose earlier change is still judged replaces that "
    "one. 202 with the version (sync mode: 200 with the judged ad). A withdrawn ad, or one still waiting for its "
    "first judgement, cannot be changed (409).",
    parameters=[IF_MATCH, IDEMPOTENCY_KEY_PATCH],
    request=AdChangeInputSerializer,
    responses={
        200: AdViewSerializer,
        202: CommandResultSerializer,
        **problem_responses(
            "validation-error",
            "ad-not-changeable",
            "ad-busy",
            "precondition-failed",
            "precondition-required",
            "broker-unavailable",
            "invalid-idempotency-key",
            "idempotency-key-in-flight",
            "idempotency-key-reused",
            path=EXAMPLE_AD_PATH,
            examples={
                412: problem_example(
                    "precondition-failed",
                    path=EXAMPLE_AD_PATH,
                    detail="The ad is at version 4, not 3: read it again, then decide.",
                    current_version=4,
                )
            },
        ),
    },
    examples=[
        OpenApiExample(
            "A new headline and price",
            value={"headline": "Trail running shoes, winter sale", "price": {"amount": "79.90", "currency": "USD"}},
            request_only=True,
        ),
        OpenApiExample("Accepted", value=EXAMPLE_CHANGE_ACCEPTED, response_only=True, status_codes=[202]),
        OpenApiExample(
            "Judged (sync intake mode)",
            value={**EXAMPLE_AD_VIEW, "version": 4},
            response_only=True,
            status_codes=[200],
        ),
    ],
)


def ads_command_schema(action: str):
    summary, description = _COMMAND_WORDS[action]
    return extend_schema(
        operation_id=f"ads_{action}",
        summary=summary,
        description=description + " `If-Match` is optional: with it, only that version." + _ASYNC,
        parameters=[IF_MATCH],
        request=None,
        responses={
            200: CommandResultSerializer,
            202: CommandResultSerializer,
            **problem_responses(
                "ad-not-changeable",
                "ad-busy",
                "precondition-failed",
                "broker-unavailable",
                path=f"{EXAMPLE_AD_PATH}/{action}",
            ),
        },
        examples=[
            OpenApiExample(
                summary,
                value={
                    "id": EXAMPLE_ID,
                    "version": 5,
                    "status": "withdrawn" if action == "withdraw" else "approved",
                    "paused": action == "pause",
                    "change": None,
                    "note": "…",
                },
                response_only=True,
                status_codes=[200, 202],
            )
        ],
    )


def ads_batch_command_schema(action: str):
    summary, description = _COMMAND_WORDS[action]
    return extend_schema(
        operation_id=f"ads_{action}_batch",
        summary=f"{summary.split(' an ')[0]} up to 1,000 ads at once",
        description=f'`{{"ids": [...]}}`: each ad as `POST /api/v1/ads/{{id}}/{action}` would, on its own: the '
        "answer has one result per id, in order, `{id, version, status, paused}` or `{id, problem}` (the problem "
        "that refused it: not found, withdrawn, …). More than 1,000 ids is the 422 problem `batch-too-large`; each "
        "id costs one unit of the rate limit. " + description + _ASYNC,
        request=AdIdsInputSerializer,
        responses={
            200: BatchCommandResponseSerializer,
            202: BatchCommandResponseSerializer,
            **problem_responses(
                "batch-too-large", "cost-exceeds-rate-limit", "broker-unavailable", path=f"/api/v1/ads/batch/{action}"
            ),
        },
        examples=[
            OpenApiExample(
                "Two ids", value={"ids": [EXAMPLE_ID, "019abc12-0000-7def-8abc-0123456789ab"]}, request_only=True
            ),
            OpenApiExample(
                "One done, one not found",
                value={
                    "accepted_count": 1,
                    "failed_count": 1,
                    "results": [
                        {"id": EXAMPLE_ID, "version": 5, "status": "approved", "paused": action == "pause"},
                        {
                            "id": "019abc12-0000-7def-8abc-0123456789ab",
                            "problem": problem_example(
                                "not-found",
                                path=f"/api/v1/ads/batch/{action}",
                                detail="No ad with this id for your account.",
                            ),
                        },
                    ],
                },
                response_only=True,
                status_codes=[200, 202],
            ),
        ],
    )
