"""Liveness and readiness probes, and the Prometheus metrics."""

import functools
import hmac
import ipaddress
import logging

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from adplatform.kernel.metrics import METRICS_CONTENT_TYPE, metrics_exposition
from adplatform.kernel.replica import replica_configured, replica_problem
from adplatform.problems import django_problem

logger = logging.getLogger(__name__)


def read_only_probe(view):
    """GET and HEAD only; any other method is the 405 problem with `Allow`. Exempt from the
    CSRF check, which would answer a POST with Django's HTML page before the method check."""

    @csrf_exempt
    @functools.wraps(view)
    def probe(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return django_problem(
                request,
                "method-not-allowed",
                detail=f"{request.method} is not allowed here; use GET.",
                headers={"Allow": "GET, HEAD"},
            )
        return view(request, *args, **kwargs)

    return probe


@read_only_probe
def healthz(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    from adplatform.celery import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)


def _check_cache() -> None:
    # REDIS_URL's Redis (rate limits, pending markers, the API-key stamp) or, on the
    # embedded default, the file cache: one round trip.
    caches["default"].get("readyz-probe")


CHECKS = {"database": _check_database, "broker": _check_broker, "cache": _check_cache}


def _run(name: str, check) -> str:
    try:
        check()
    except Exception:
        # The error names hosts, roles and paths: it goes to the log, never to the prober.
        logger.exception("readiness check %s failed", name)
        return "failing"
    return "ok"


@read_only_probe
def readyz(request):
    report = {name: _run(name, check) for name, check in CHECKS.items()}
    failed = [name for name, result in report.items() if result != "ok"]
    if not failed:
        # A replica that is down or lagging is skipped for the primary: degraded, still ready.
        # Why it is skipped goes to the log, as every check's error does.
        if replica_configured():
            problem = replica_problem()
            if problem:
                logger.warning("readiness: the read replica is skipped: %s", problem)
            report["replica"] = "degraded" if problem else "ok"
        return JsonResponse(
            {"status": "degraded" if report.get("replica") == "degraded" else "ready", "checks": report}
        )
    # A 503 like every other error: problem details, with the checks that failed.
    return django_problem(request, "unavailable", detail=f"Not ready: {', '.join(failed)}.", checks=report)


def _offered_token(request) -> str:
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    return offered.strip() if scheme.lower() == "bearer" else ""


def _from_allowed_network(request) -> bool:
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(network, strict=True) for network in settings.METRICS_ALLOWED_NETWORKS)


@read_only_probe
def metrics(request):
    """Prometheus metrics of this host. Every control that is configured must pass: the
    token when METRICS_TOKEN is set (from any network: behind a local reverse proxy every
    client is 127.0.0.1), the address when METRICS_ALLOWED_NETWORKS is set (REMOTE_ADDR,
    the proxy's behind one). With neither set, nobody is answered."""
    token = settings.METRICS_TOKEN
    if token and not hmac.compare_digest(_offered_token(request).encode(), token.encode()):
        return django_problem(
            request,
            "unauthorized",
            detail="Send the metrics token as a Bearer token.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if settings.METRICS_ALLOWED_NETWORKS and not _from_allowed_network(request):
        return django_problem(request, "forbidden", detail="Metrics are served to the allowed networks only.")
    if not (token or settings.METRICS_ALLOWED_NETWORKS):
        return django_problem(
            request, "forbidden", detail="Metrics are closed: set METRICS_TOKEN or METRICS_ALLOWED_NETWORKS."
        )
    return HttpResponse(metrics_exposition(), content_type=METRICS_CONTENT_TYPE)
