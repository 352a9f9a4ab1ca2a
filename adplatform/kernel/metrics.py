"""Prometheus metrics of the platform (prometheus_client's default registry; the /metrics
endpoint exposes it). A counter lives in the process that increments it: with several
processes (gunicorn workers, Celery's prefork pool) run prometheus_client in multiprocess
mode (PROMETHEUS_MULTIPROC_DIR) so that /metrics sums them."""

from prometheus_client import Counter

RECONCILED_ADS = Counter(
    "adplatform_reconciled_ads_total",
    "Ads found still pending after RECONCILE_PENDING_AFTER seconds and re-published by the reconciliation sweep.",
)
