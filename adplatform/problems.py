"""RFC 9457 problem details for every API error, with stable `type` URIs.

Every type the API answers with is registered in PROBLEM_TYPES: its slug (the last part of
the `type` URI) never changes, and the OpenAPI schema lists them all (the `Problem`
component), so clients may branch on `type`. Raise `problem("slug", detail=...)` from views
and services; DRF's own errors and Django's (404 for unknown URLs, 500) are reshaped here too.
"""

import math
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://adplatform.example/problems/"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str
    meaning: str  # when it happens and what the client should do

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug


PROBLEM_TYPES = {
    t.slug: t
    for t in (
        ProblemType(
            "bad-request",
            400,
            "The request is malformed.",
            "The body is not valid JSON, or a query parameter is invalid; `errors` names each field.",
        ),
        ProblemType(
            "validation-error",
            400,
            "The ad failed basic validation.",
            "Nothing was accepted; `errors` lists every field error with a stable `BASIC.*` code.",
        ),
        ProblemType("invalid-date", 400, "The date is missing or invalid.", "Send the day as YYYY-MM-DD."),
        ProblemType(
            "invalid-idempotency-key",
            400,
            "The Idempotency-Key header is invalid.",
            "Send 1 to 255 printable ASCII characters, e.g. a UUID.",
        ),
        ProblemType(
            "unauthorized",
            401,
            "Authentication is required.",
            "Send `Authorization: Bearer <API key>` with a key that is valid and not revoked.",
        ),
        ProblemType(
            "forbidden", 403, "You may not do this.", "The credentials are valid but do not allow this request."
        ),
        ProblemType(
            "insufficient-scope",
            403,
            "The API key lacks the scope this operation needs.",
            "`required_scope` names it (read, submit, settings or keys); use a key that has it. A key can "
            "only make or rotate keys with scopes it has itself.",
        ),
        ProblemType(
            "not-found",
            404,
            "Not found.",
            "No such URL, or no such resource for your account (another retailer's ads are not found either).",
        ),
        ProblemType(
            "method-not-allowed", 405, "Method not allowed.", "The `Allow` header lists the methods of this URL."
        ),
        ProblemType(
            "not-acceptable", 406, "Not acceptable.", "The API answers in JSON only; accept `application/json`."
        ),
        ProblemType(
            "uri-too-long",
            414,
            "The URL is too long.",
            "The request line (method, path and query) is over 4094 bytes; send fewer or shorter parameters.",
        ),
        ProblemType(
            "expectation-failed",
            417,
            "The Expect header cannot be met.",
            "Only `Expect: 100-continue` is understood; send no other expectation.",
        ),
        ProblemType(
            "header-fields-too-large",
            431,
            "The request's header fields are too large.",
            "At most 100 header fields of 8190 bytes each; send fewer or shorter ones.",
        ),
        ProblemType(
            "not-implemented",
            501,
            "The request uses what the server does not implement.",
            "E.g. a `Transfer-Encoding` other than `chunked`; see `detail`.",
        ),
        ProblemType("conflict", 409, "Conflict.", "The request conflicts with the current state of the resource."),
        ProblemType(
            "last-key-manager",
            409,
            "This is the last active key that can manage keys.",
            "Revoking it would leave no key that can make or revoke keys (only staff could then). Make or keep "
            "another key with the `keys` scope first, or send `allow_lockout=true`.",
        ),
        ProblemType(
            "api-key-inactive",
            409,
            "The API key is revoked, expired or already rotated.",
            "Only an active key that has not been rotated can be rotated; make a new key instead.",
        ),
        ProblemType(
            "appeal-not-allowed",
            409,
            "This ad cannot be appealed.",
            "Only a rejected ad, or one decided by staff, can be appealed; see `detail` for its status.",
        ),
        ProblemType(
            "appeal-exists",
            409,
            "This verdict was appealed already.",
            "An ad is appealed once per verdict version; `appeal_id` names the earlier appeal (read it on the ad).",
        ),
        ProblemType(
            "ad-not-changeable",
            409,
            "The ad cannot take this command in its state.",
            "A withdrawn ad is final; an ad still waiting for its first judgement can only be withdrawn. "
            "See `detail` (docs/ad-states.md has every state and command).",
        ),
        ProblemType(
            "ad-busy",
            409,
            "The ad's previous command is still on its way.",
            "The direct intake mode takes one command of an ad at a time: retry after `Retry-After`.",
        ),
        ProblemType(
            "precondition-failed",
            412,
            "The ad changed since you read it.",
            "`If-Match` named another version than the ad's; `current_version` is its version now. Read the ad "
            "again (its `ETag`) and decide on what it is now.",
        ),
        ProblemType(
            "precondition-required",
            428,
            "A change needs If-Match.",
            'Send `If-Match` with the ad\'s `ETag` (e.g. `"3"`) as your last read gave it, so that no change '
            "is made to a version you have not seen.",
        ),
        ProblemType(
            "idempotency-key-in-flight",
            409,
            "A request with this Idempotency-Key is still in progress.",
            "Retry after the seconds in `Retry-After`: you will then get the first request's answer.",
        ),
        ProblemType(
            "payload-too-large",
            413,
            "The request body is too large.",
            "A single ad is at most 64 KiB, a batch at most 16 MiB (see `detail`).",
        ),
        ProblemType(
            "unsupported-media-type",
            415,
            "Send JSON (Content-Type: application/json).",
            "Bodies must be JSON with `Content-Type: application/json`.",
        ),
        ProblemType(
            "unsupported-content-encoding",
            415,
            "Send the body uncompressed.",
            "A body with a `Content-Encoding` (gzip, br...) is not accepted; send it without one "
            "(`Accept-Encoding: identity` says so).",
        ),
        ProblemType(
            "idempotency-key-reused",
            422,
            "This Idempotency-Key was used with another request.",
            "A key identifies one request (method, path and body) for 24 hours; use a new key for a new request.",
        ),
        ProblemType(
            "webhook-rejected",
            422,
            "The webhook endpoint cannot be registered.",
            "The URL is not allowed (scheme, private address) or you have the most endpoints already; see `detail`.",
        ),
        ProblemType(
            "batch-too-large",
            422,
            "The batch has too many ads.",
            "Send at most 1,000 ads per batch; split larger ones.",
        ),
        ProblemType(
            "batch-rejected",
            422,
            "No ad in the batch passed basic validation.",
            "Nothing was accepted; `results` holds the errors of each item, in order.",
        ),
        ProblemType(
            "rate-limited",
            429,
            "Too many requests.",
            "Your per-minute quota is used up; retry after the seconds in `Retry-After` "
            "(`RateLimit-*` headers show the quota on every answer).",
        ),
        ProblemType(
            "cost-exceeds-rate-limit",
            429,
            "The request costs more than your whole per-minute quota.",
            "A batch costs one unit per ad; send smaller batches than `RateLimit-Limit`.",
        ),
        ProblemType("internal", 500, "Internal error.", "A fault on our side; quote `request_id` when you report it."),
        ProblemType(
            "broker-unavailable",
            503,
            "The event broker is unavailable.",
            "Nothing was accepted; retry after the seconds in `Retry-After`.",
        ),
        ProblemType(
            "intake-overloaded",
            503,
            "The platform is behind on the ads it has accepted.",
            "The oldest accepted ad still waiting for its checks has waited near or past the platform's bound "
            "(a share of intake is refused as the wait nears it, all of it past it); nothing was accepted. "
            "Retry after the seconds in `Retry-After`; ads already accepted are unaffected.",
        ),
        ProblemType("unavailable", 503, "The service is unavailable; try again later.", "Retry after `Retry-After`."),
    )
}

# Errors that carry no type of their own (DRF's, Django's) get the type of their status.
DEFAULT_TYPES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
    500: "internal",
    503: "unavailable",
}


class Problem(exceptions.APIException):
    """An API error with its own problem type; raise it from services or views."""

    def __init__(
        self, *, status_code: int, slug: str, title: str, detail: str = "", errors=None, headers=None, extensions=None
    ):
        self.status_code = status_code
        self.slug = slug
        self.title = title
        self.errors = errors
        self.headers = headers or {}
        self.extensions = extensions or {}
        super().__init__(detail or title)


def problem(slug: str, *, detail: str = "", errors=None, headers=None, **extensions) -> Problem:
    """The Problem of a registered type: `raise problem("payload-too-large", detail=...)`."""
    kind = PROBLEM_TYPES[slug]
    return Problem(
        status_code=kind.status,
        slug=slug,
        title=kind.title,
        detail=detail,
        errors=errors,
        headers=headers,
        extensions=extensions,
    )


def problem_body(
    *, status_code: int, slug: str, title: str, detail: str, request=None, errors=None, extensions=None
) -> dict:
    body = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status_code,
        "detail": detail,
        "instance": request.path if request is not None else None,
    }
    if errors is not None:
        body["errors"] = errors
    request_id = getattr(request, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extensions or {})
    return body


def problem_response(
    *,
    status_code: int,
    slug: str,
    title: str,
    detail: str = "",
    request=None,
    errors=None,
    headers=None,
    extensions=None,
) -> HttpResponse:
    """Rendered here as JSON, whatever renderer the view negotiated: a view that answers YAML
    (the schema) or HTML (the docs page) still answers its errors as problem JSON."""
    body = problem_body(
        status_code=status_code,
        slug=slug,
        title=title,
        detail=detail or title,
        request=request,
        errors=errors,
        extensions=extensions,
    )
    return HttpResponse(
        JSONRenderer().render(body), status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE
    )


def problem_exception_handler(exc, context):
    """DRF's handler, reshaped into problem details."""
    # Imported here: DRF's views import the API settings, whose classes import this module.
    from rest_framework.views import exception_handler

    request = context.get("request")
    if isinstance(exc, RequestDataTooBig):
        exc = problem(
            "payload-too-large", detail=f"At most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes are read from a body."
        )
    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handler answers (see handler500)
    if isinstance(exc, Problem):
        slug, title, errors, extensions = exc.slug, exc.title, exc.errors, exc.extensions
    else:
        slug = DEFAULT_TYPES.get(response.status_code, "bad-request" if response.status_code < 500 else "internal")
        title, errors, extensions = PROBLEM_TYPES[slug].title, None, None
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    if isinstance(detail, (list, dict)):
        errors = errors or _flatten(detail)
        detail = title
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Allow")}
    headers.update(getattr(exc, "headers", {}) or {})
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))
    return problem_response(
        status_code=response.status_code,
        slug=slug,
        title=title,
        detail=str(detail),
        request=request,
        errors=errors,
        headers=headers,
        extensions=extensions,
    )


def _flatten(detail, prefix=""):
    errors = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            errors += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(detail, list):
        for value in detail:
            errors += _flatten(value, prefix)
    else:
        errors.append({"field": prefix, "code": getattr(detail, "code", "invalid"), "message": str(detail)})
    return errors


def django_problem(request, slug: str, *, detail: str = "", headers=None, **extensions) -> JsonResponse:
    """A problem answered outside DRF (URL resolution, middleware, plain Django views)."""
    kind = PROBLEM_TYPES[slug]
    body = problem_body(
        status_code=kind.status,
        slug=slug,
        title=kind.title,
        detail=detail or kind.title,
        request=request,
        extensions=extensions,
    )
    return JsonResponse(body, status=kind.status, content_type=PROBLEM_CONTENT_TYPE, headers=headers)


def handler404(request, exception=None):
    return django_problem(request, "not-found", detail="No such URL.")


def handler500(request):
    return django_problem(request, "internal")


def handler400(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        return django_problem(request, "payload-too-large")
    return django_problem(request, "bad-request")


def handler403(request, exception=None):
    return django_problem(request, "forbidden")


def broker_unavailable() -> Problem:
    return problem(
        "broker-unavailable",
        detail="Nothing was accepted; retry after the time in Retry-After.",
        headers={"Retry-After": str(settings.BROKER_RETRY_AFTER)},
    )
