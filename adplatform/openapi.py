"""The OpenAPI schema's shared parts: the API-key security scheme, the problem-details
responses of the operations, the Idempotency-Key header, the response headers of every
answer, one named enum per set of values, and the list of problem types."""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from .kernel.scopes import document_scopes
from .problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPES


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "adplatform.kernel.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A retailer's API key: `Authorization: Bearer adp_…`.",
        }


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(
        help_text="The field, dotted for nested ones (`price.amount`); empty for the whole body."
    )
    code = serializers.CharField(help_text="A stable code, e.g. `BASIC.REQUIRED`.")
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details. `type` is one of the stable URIs listed in the API
    description and in `components.x-problem-types`."""

    type = serializers.URLField(
        help_text="Identifies the kind of problem; stable (see the list in the API description)."
    )
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    # Not required: a request the server refuses before the application reads it (a request
    # line or header fields too large, a malformed one: gunicorn.conf.py) has no path to name.
    instance = serializers.CharField(
        required=False,
        help_text="The path of the request; absent from the problems the server answers before the "
        "application reads the request (414, 431, a malformed request).",
    )
    request_id = serializers.CharField(
        required=False, help_text="The request's X-Request-ID; quote it in support requests."
    )
    errors = FieldErrorSerializer(many=True, required=False, help_text="Per-field errors, for validation problems.")


def problem_example(slug: str, *, detail: str = "", errors=None, path: str = "/api/v1/ads", **extensions) -> dict:
    kind = PROBLEM_TYPES[slug]
    body = {
        "type": kind.uri,
        "title": kind.title,
        "status": kind.status,
        "detail": detail or kind.title,
        "instance": path,
    }
    if errors is not None:
        body["errors"] = errors
    return {**body, "request_id": "5f0c3e9a6b2d4c1e8f7a9b0c1d2e3f4a", **extensions}


def problem_responses(*slugs: str, path: str, serializer=ProblemSerializer, examples: dict | None = None) -> dict:
    """drf-spectacular `responses` entries (application/problem+json) for the operation at
    `path` that may answer the problem types `slugs`: one per status, listing its types, with
    the first type as the example unless `examples` maps the status to another body."""
    by_status: dict[int, list] = {}
    for slug in slugs:
        by_status.setdefault(PROBLEM_TYPES[slug].status, []).append(slug)
    responses = {}
    for status, kinds in sorted(by_status.items()):
        body = (examples or {}).get(status) or problem_example(kinds[0], path=path)
        responses[(status, PROBLEM_CONTENT_TYPE)] = OpenApiResponse(
            response=serializer,
            description="Problem types: " + ", ".join(f"`{slug}`" for slug in kinds),
            examples=[
                OpenApiExample(body["type"].rsplit("/", 1)[-1], value=body, response_only=True, status_codes=[status])
            ],
        )
    return responses


IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
    "description": "Makes the POST safe to retry: the first answer is replayed for 24 hours (marked "
    "`Idempotent-Replayed: true`); the same key with another request is a 422; while the first request "
    "runs, a retry gets a 409 with `Retry-After`.",
}


def implied_problem_types(method: str, operation: dict) -> list[str]:
    """The problem types any operation of this shape can answer, whatever its view does:
    authentication and rate limits, parameters and bodies, idempotency keys on POST. A URL
    with parameters in it can be made too long for gunicorn's request line (414, answered
    before any view: gunicorn.conf.py)."""
    slugs = []
    if operation.get("security"):
        slugs += ["unauthorized", "insufficient-scope", "not-acceptable", "rate-limited"]
    locations = {parameter["in"] for parameter in operation.get("parameters", [])}
    if locations & {"path", "query"}:
        slugs.append("uri-too-long")
    if "path" in locations:
        slugs.append("not-found")
    if "query" in locations or "requestBody" in operation:
        slugs.append("bad-request")
    if "requestBody" in operation:
        slugs += ["payload-too-large", "unsupported-media-type", "unsupported-content-encoding", "not-implemented"]
    if method == "post":
        slugs += ["invalid-idempotency-key", "idempotency-key-in-flight", "idempotency-key-reused"]
    return slugs


def _document_problems(operation: dict, slugs: list[str], path: str) -> None:
    responses = operation["responses"]
    for status in sorted({PROBLEM_TYPES[slug].status for slug in slugs}):
        kinds = [slug for slug in slugs if PROBLEM_TYPES[slug].status == status]
        response = responses.get(str(status))
        if response is None:
            example = problem_example(kinds[0], path=path)
            responses[str(status)] = {
                "description": "",
                "content": {
                    PROBLEM_CONTENT_TYPE: {
                        "schema": {"$ref": "#/components/schemas/Problem"},
                        "examples": {kinds[0]: {"value": example, "summary": kinds[0]}},
                    }
                },
            }
            response = responses[str(status)]
        elif PROBLEM_CONTENT_TYPE not in response.get("content", {}):
            continue  # the view answers this status otherwise; leave it as documented
        listed = re.findall(r"`([a-z-]+)`", response["description"])
        merged = listed + [slug for slug in kinds if slug not in listed]
        response["description"] = "Problem types: " + ", ".join(f"`{slug}`" for slug in merged)


# The response headers, each documented once (components.headers) and referenced by every
# answer that can carry it.
RESPONSE_HEADERS = {
    "X-Request-ID": {
        "description": "The request's id, on every answer: the client's own `X-Request-ID` when it is 1 to 128 "
        "characters of `A-Za-z0-9._-`, else a new one. Problem bodies carry it as `request_id`; quote it in "
        "support requests.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
    },
    "RateLimit-Limit": {
        "description": "Your quota: units per window (a request costs one, a batch one per ad). Sent on every "
        "answer to an authenticated request while rate limiting is on (`RATE_LIMIT_ENABLED`, the default), in "
        "every deployment; not on 401 and 406 answers, which come before the quota is looked at.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimit-Remaining": {
        "description": "Units left in the current window (sent with `RateLimit-Limit`).",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the whole quota is back (sent with `RateLimit-Limit`).",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Policy": {
        "description": "The quota and its window, e.g. `1000;w=60` (sent with `RateLimit-Limit`).",
        "schema": {"type": "string", "example": "1000;w=60"},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying: on 429 (quota used up), 503 (broker unavailable, not "
        "ready) and 409 (the same Idempotency-Key still in flight).",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Accept-Encoding": {
        "description": "On a 415 for a compressed body: `identity`, the only content coding a body may have.",
        "schema": {"type": "string", "enum": ["identity"]},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same "
        "`Idempotency-Key`: nothing ran a second time.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "ETag": {
        "description": 'The ad\'s version, quoted (`"3"`): send it as `If-Match` to change, pause, resume or '
        "withdraw exactly that version.",
        "schema": {"type": "string", "example": '"3"'},
    },
    "Location": {
        "description": "The accepted ad's URL (read it there, as `pending` at once).",
        "schema": {"type": "string", "example": "/api/v1/ads/019abc12-3456-7def-8abc-0123456789ab"},
    },
}
# The commands on one ad (ads_write/api_commands.py): answered with the ad's ETag and URL.
AD_COMMANDS = ("ads_change", "ads_pause", "ads_resume", "ads_withdraw")
RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")


def response_header_names(method: str, operation: dict, status: str) -> list[str]:
    """The headers an answer with this status to this operation may carry."""
    names = ["X-Request-ID"]
    if operation.get("security") and status not in ("401", "406"):
        names += RATE_LIMIT_HEADERS
    if status in ("409", "429", "503"):
        names.append("Retry-After")
    if status == "415":
        names.append("Accept-Encoding")
    if (method == "post" or operation.get("operationId") in AD_COMMANDS) and not status.startswith("5"):
        names.append("Idempotent-Replayed")
    if operation.get("operationId") in ("ads_submit", *AD_COMMANDS) and status in ("200", "201", "202"):
        names.append("Location")
    if operation.get("operationId") in ("ads_retrieve", *AD_COMMANDS) and status in ("200", "202"):
        names.append("ETag")
    return names


def _document_headers(method: str, operation: dict) -> None:
    for status, response in operation["responses"].items():
        headers = response.setdefault("headers", {})
        for name in response_header_names(method, operation, status):
            headers.setdefault(name, {"$ref": f"#/components/headers/{name}"})


def _path_ids_are_uuids(operation: dict) -> None:
    """Every id in a path is a UUID. The routes take any text (`<str:ad_id>`) so that one that
    is not a UUID is the 404 problem, not a URL that does not resolve; described as text, a
    generated client typed `ad_id` a string on some operations and a UUID on others."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path" and parameter["name"].endswith("_id"):
            parameter["schema"] = {"type": "string", "format": "uuid"}


def _share_parameter_enums(result) -> None:
    """A query parameter that takes the values of a named enum refers to it, instead of
    repeating the values inline (a generated client made a second enum of each)."""
    by_values = {
        frozenset(schema["enum"]): name for name, schema in result["components"]["schemas"].items() if "enum" in schema
    }
    for item in result["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                target = schema.get("items", schema) if schema.get("type") == "array" else schema
                name = by_values.get(frozenset(target.get("enum", ())))
                if name:
                    target.clear()
                    target["$ref"] = f"#/components/schemas/{name}"


def add_api_manners(result, generator, request, public):
    """Postprocessing hook: what every operation shares, documented once. Each operation gets
    the problem answers its shape implies (on top of those its view declares) and, for POST,
    the Idempotency-Key header (every POST view is @idempotent); every answer documents its
    response headers; the schema lists every problem type with its meaning."""
    for path, item in result["paths"].items():
        for method, operation in item.items():
            if method == "post" and not any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])):
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
            _document_problems(operation, implied_problem_types(method, operation), path)
            _document_headers(method, operation)
            _path_ids_are_uuids(operation)
    _share_parameter_enums(result)
    result["components"]["headers"] = RESPONSE_HEADERS
    document_scopes(result)
    rows = "\n".join(f"| `{t.uri}` | {t.status} | {t.title} | {t.meaning} |" for t in PROBLEM_TYPES.values())
    result["info"]["description"] = (
        result["info"].get("description", "")
        + "\n\nErrors are RFC 9457 problem details (`application/problem+json`). Their `type`s are stable:\n\n"
        + "| type | status | title | meaning |\n|---|---|---|---|\n"
        + rows
    )
    result["components"]["x-problem-types"] = [
        {"type": t.uri, "status": t.status, "title": t.title, "meaning": t.meaning} for t in PROBLEM_TYPES.values()
    ]
    return result
