"""RFC 9457 problem details for every API error, with stable `type` URIs."""

from django.conf import settings
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://adplatform.example/problems/"

# status -> (type slug, title) for errors that carry no type of their own.
DEFAULT_TYPES = {
    400: ("bad-request", "The request is malformed."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "You may not do this."),
    404: ("not-found", "Not found."),
    405: ("method-not-allowed", "Method not allowed."),
    406: ("not-acceptable", "Not acceptable."),
    409: ("conflict", "Conflict."),
    413: ("payload-too-large", "The request body is too large."),
    415: ("unsupported-media-type", "Send JSON (Content-Type: application/json)."),
    422: ("unprocessable", "The request cannot be processed."),
    429: ("rate-limited", "Too many requests."),
    500: ("internal", "Internal error."),
    503: ("unavailable", "The service is unavailable; try again later."),
}


class Problem(exceptions.APIException):
    """An API error with its own problem type; raise it from services or views."""

    def __init__(self, *, status_code: int, slug: str, title: str, detail: str = "", errors=None, headers=None):
        self.status_code = status_code
        self.slug = slug
        self.title = title
        self.errors = errors
        self.headers = headers or {}
        super().__init__(detail or title)


def problem_body(*, status_code: int, slug: str, title: str, detail: str, request=None, errors=None) -> dict:
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
    return body


def problem_response(*, status_code: int, slug: str, title: str, detail: str = "", request=None, errors=None, headers=None) -> Response:
    body = problem_body(status_code=status_code, slug=slug, title=title, detail=detail or title, request=request, errors=errors)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_exception_handler(exc, context):
    """DRF's handler, reshaped into problem details."""
    request = context.get("request")
    response = exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handler answers (see handler500)
    if isinstance(exc, Problem):
        slug, title, errors = exc.slug, exc.title, exc.errors
    else:
        slug, title = DEFAULT_TYPES.get(response.status_code, ("error", "Error."))
        errors = None
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    if isinstance(detail, (list, dict)):
        errors = errors or _flatten(detail)
        detail = title
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}
    headers.update(getattr(exc, "headers", {}) or {})
    if isinstance(exc, exceptions.Throttled) and exc.wait:
        headers["Retry-After"] = str(int(exc.wait) + 1)
    return problem_response(
        status_code=response.status_code, slug=slug, title=title, detail=str(detail), request=request, errors=errors, headers=headers
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


def _django_problem(request, status_code):
    slug, title = DEFAULT_TYPES[status_code]
    body = problem_body(status_code=status_code, slug=slug, title=title, detail=title, request=request)
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def handler404(request, exception=None):
    return _django_problem(request, status.HTTP_404_NOT_FOUND)


def handler500(request):
    return _django_problem(request, status.HTTP_500_INTERNAL_SERVER_ERROR)


def handler400(request, exception=None):
    return _django_problem(request, status.HTTP_400_BAD_REQUEST)


def handler403(request, exception=None):
    return _django_problem(request, status.HTTP_403_FORBIDDEN)


def broker_unavailable() -> Problem:
    return Problem(
        status_code=503,
        slug="broker-unavailable",
        title="The event broker is unavailable.",
        detail="Nothing was accepted; retry after the time in Retry-After.",
        headers={"Retry-After": str(settings.BROKER_RETRY_AFTER)},
    )
