"""Liveness and readiness probes, and the Prometheus metrics."""

import hmac
import ipaddress

from django.conf import settings
from django.db import connections
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST

from adplatform.kernel.metrics import metrics_exposition
from adplatform.kernel.replica import replica_configured, replica_problem
from adplatform.problems import django_problem


def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _check_broker() -> str | None:
    from adplatform.celery import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def readyz(request):
    checks = {"database": _check_database(), "broker": _check_broker()}
    report = {k: v or "ok" for k, v in checks.items()}
    if not any(checks.values()):
        # A replica that is down or lagging is skipped for the primary: degraded, still ready.
        replica = (replica_problem() or "ok") if replica_configured() else None
        if replica is not None:
            report["replica"] = replica
        return JsonResponse({"status": "ready" if replica in (None, "ok") else "degraded", "checks": report})
    # A 503 like every other error: problem details, with the checks that failed.
    failed = ", ".join(name for name, error in checks.items() if error)
    return django_problem(request, "unavailable", detail=f"Not ready: {failed}.", checks=report)


def _metrics_allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(offered.strip().encode(), token.encode()):
        return True
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(network, strict=True) for network in settings.METRICS_ALLOWED_NETWORKS)


def metrics(request):
    """Prometheus metrics of this host, for a scraper with the token or on an allowed network.
    Behind a reverse proxy REMOTE_ADDR is the proxy's: use the token there."""
    if not _metrics_allowed(request):
        if settings.METRICS_TOKEN:
            return django_problem(
                request,
                "unauthorized",
                detail="Send the metrics token as a Bearer token.",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return django_problem(request, "forbidden", detail="Metrics are served to the allowed networks only.")
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)
