"""Prometheus metrics of every process, web and workers.

prometheus_client runs in multiprocess mode: PROMETHEUS_MULTIPROC_DIR (a setting) names a
folder of this host, each process writes its samples to files there, and /metrics (see
adplatform/health.py) adds up the files of all processes of the host, so the workers'
counters show on the web's /metrics. The folder is per host: scrape every host.
"""

import logging
import os
from pathlib import Path

from django.conf import settings

# prometheus_client chooses multiprocess mode by this variable when it is first imported, and
# this module is the only one of the app that imports it: point it at the folder first.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = settings.PROMETHEUS_MULTIPROC_DIR
Path(settings.PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402

logger = logging.getLogger(__name__)

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

HTTP_REQUESTS = Counter(
    "adplatform_http_requests_total",
    "HTTP requests answered, by route name, method and status.",
    ["route", "method", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "adplatform_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ADS_ACCEPTED = Counter("adplatform_ads_accepted_total", "Ads accepted on the request path, by intake mode.", ["mode"])
VERDICTS = Counter(
    "adplatform_verdicts_total", "Verdicts recorded, by the status they gave and who gave it.", ["status", "source"]
)
RECONCILED_ADS = Counter(
    "adplatform_reconciled_ads_total",
    "Ads found still pending after RECONCILE_PENDING_AFTER seconds and re-published by the reconciliation sweep.",
)
READ_MODEL_RECONCILED_ADS = Counter(
    "adplatform_read_model_reconciled_ads_total",
    "Ads whose read row was missing or older than the ad, projected again by the read-model sweep.",
)
INTAKE_SHED_ADS = Counter(
    "adplatform_intake_shed_ads_total",
    "Ads refused with 503 intake-overloaded because the oldest waiting intake message was near or past "
    "INTAKE_MAX_LAG, by intake mode (the requests are adplatform_http_requests_total's 503s).",
    ["mode"],
)
CONSISTENCY_LAG = Histogram(
    "adplatform_consistency_lag_seconds",
    "From an ad's acceptance to its first final state on the read side, observed by the projection.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)


REPLICA_SKIPPED = Counter(
    "adplatform_replica_skipped_reads_total",
    "Reads of the read side sent to the primary because the replica was down or lagging.",
    ["reason"],
)


class QueueDepthCollector:
    """Messages waiting in each pipeline queue, asked of the broker at scrape time."""

    def __init__(self, queues):
        self.queues = queues

    def collect(self):
        from adplatform.celery import app

        depth = GaugeMetricFamily(
            "adplatform_queue_depth", "Messages waiting in each queue, read at scrape time.", labels=["queue"]
        )
        try:
            with app.connection_for_read() as connection:
                channel = connection.default_channel
                # RabbitMQ refuses a declaration whose arguments differ from the queue's
                # (quorum): there, only a passive one, which Redis would refuse for an empty queue.
                passive = connection.transport.driver_type == "amqp"
                for queue in self.queues:
                    # Declaring an existing queue is a no-op that reports its length (LLEN on Redis).
                    depth.add_metric([queue], channel.queue_declare(queue=queue, passive=passive).message_count)
        except Exception:  # the broker is down: the other metrics still matter
            logger.warning("could not read the queue depths", exc_info=True)
            return
        yield depth


def metrics_exposition() -> bytes:
    """The samples of all processes of this host, plus the queue depths, in Prometheus text."""
    from adplatform.celery import QUEUES

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(QueueDepthCollector(QUEUES))
    return generate_latest(registry)
