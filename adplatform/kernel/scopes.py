"""The scope each API operation needs, in one table (URL name, method).

IsRetailer (auth.py) refuses an operation that is not in this table, whatever the key's
scopes: a new endpoint is closed until somebody decides its scope here (a test walks the
URLs). A method the view does not have, and OPTIONS, are let through to their 405.
"""

import re

from adplatform.problems import problem

from .models import Scope

OPERATION_SCOPES: dict[tuple[str, str], str] = {
    ("ads", "GET"): Scope.READ,
    ("ads", "POST"): Scope.SUBMIT,
    ("ads-batch", "POST"): Scope.SUBMIT,
    ("ads-failed", "GET"): Scope.READ,
    ("ad-detail", "GET"): Scope.READ,
    # Contesting a verdict is part of submitting ads.
    ("ad-appeals", "POST"): Scope.SUBMIT,
    # Managing a submitted ad (change, pause, resume, withdraw) is part of submitting ads.
    ("ad-detail", "PATCH"): Scope.SUBMIT,
    ("ad-pause", "POST"): Scope.SUBMIT,
    ("ad-resume", "POST"): Scope.SUBMIT,
    ("ad-withdraw", "POST"): Scope.SUBMIT,
    ("ads-batch-pause", "POST"): Scope.SUBMIT,
    ("ads-batch-withdraw", "POST"): Scope.SUBMIT,
    ("stats", "GET"): Scope.READ,
    ("report-failed-ads", "GET"): Scope.READ,
    ("settings", "GET"): Scope.READ,
    ("settings", "PATCH"): Scope.SETTINGS,
    ("webhooks", "GET"): Scope.READ,
    ("webhooks", "POST"): Scope.SETTINGS,
    ("webhook-detail", "GET"): Scope.READ,
    ("webhook-detail", "DELETE"): Scope.SETTINGS,
    ("webhook-deliveries", "GET"): Scope.READ,
    ("keys", "GET"): Scope.KEYS,
    ("keys", "POST"): Scope.KEYS,
    ("key-detail", "GET"): Scope.KEYS,
    ("key-detail", "PATCH"): Scope.KEYS,
    ("key-detail", "DELETE"): Scope.KEYS,
    ("key-rotate", "POST"): Scope.KEYS,
}


def scope_for(url_name: str | None, method: str) -> str | None:
    return OPERATION_SCOPES.get((url_name or "", "GET" if method == "HEAD" else method))


def require_scope(request) -> None:
    """Raise a 403 problem unless the caller's key has the scope of this operation."""
    from .auth import Caller

    view = request.parser_context.get("view") if request.parser_context else None
    if request.method == "OPTIONS" or (view is not None and not hasattr(view, request.method.lower())):
        return  # the view answers 405 (OPTIONS too: the metadata class is off)
    match = request._request.resolver_match
    if match is None:
        return  # a view called without the URLconf: only tests' request factories do that
    needed = scope_for(match.url_name, request.method)
    if needed is None:
        raise problem("insufficient-scope", detail="This operation is open to no API key.")
    caller = getattr(request, "caller", None)
    scopes = caller.scopes if isinstance(caller, Caller) else frozenset()
    if needed not in scopes:
        raise problem(
            "insufficient-scope", detail=f"This API key lacks the scope `{needed}`.", required_scope=str(needed)
        )


def routes(patterns, prefix=""):
    """(OpenAPI path template, URL pattern) of every route, includes flattened."""
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", prefix + str(pattern.pattern)), pattern


def document_scopes(result: dict) -> None:
    """Part of the schema's postprocessing (openapi.add_api_manners): each operation says the
    scope its key needs, in its description and as `x-required-scope`."""
    from django.urls import get_resolver

    names = {path: pattern.name for path, pattern in routes(get_resolver().url_patterns)}
    for path, item in result["paths"].items():
        for method, operation in item.items():
            needed = scope_for(names.get(path), method.upper())
            if needed is not None:
                operation["x-required-scope"] = str(needed)
                note = f"Needs an API key with the scope `{needed}`."
                operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
    result["info"]["description"] = (
        result["info"].get("description", "")
        + "\n\nAPI keys have scopes: `read` (every GET but the key API), `submit` (ads), `settings` (changing the "
        "notification settings and webhooks) and `keys` (the key API). An operation the key's scopes do not "
        "cover answers `403` with the type `insufficient-scope`."
    )
