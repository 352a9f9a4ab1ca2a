"""The Celery app: the event pipeline between the command side and its consumers.

Delivery is at-least-once (DESIGN.md §4): a task is acknowledged only after it ran
(`acks_late`), a worker that dies mid-task hands its message back
(`task_reject_on_worker_lost`), and a dead worker's prefetched and buffered messages
(WORKER_PREFETCH in settings) come back to the queue. Every consumer is therefore idempotent.
"""

import os

import msgspec
from celery import Celery
from celery.signals import beat_init, task_postrun, task_prerun, worker_init
from django.db import close_old_connections
from kombu.serialization import register

# One queue per stage; settings.py declares them as the broker needs (CELERY_TASK_QUEUES).
from adplatform.kernel.queues import QUEUES  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adplatform.settings")


app = Celery("adplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")

# Pipeline messages carry up to INTAKE_MESSAGE_SIZE ads each: msgspec encodes and decodes them
# several times faster than the standard json (a tenth of the batch intake's time). Still JSON
# on the wire, under its own content type, which every process that loads this app accepts.
PIPELINE_SERIALIZER = "msgspec"
PIPELINE_CONTENT_TYPE = "application/x-msgspec-json"
register(
    PIPELINE_SERIALIZER,
    msgspec.json.encode,
    msgspec.json.decode,
    content_type=PIPELINE_CONTENT_TYPE,
    content_encoding="binary",
)


app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_acks_on_failure_or_timeout=True,
    task_serializer="json",
    accept_content=["json", PIPELINE_SERIALIZER],
    result_backend=None,
    task_ignore_result=True,
    task_default_queue="intake",
    task_routes={
        "*.maintenance_*": {"queue": "maintenance"},
        "ads_write.tasks.*": {"queue": "intake"},
        "ads_read.tasks.*": {"queue": "projections"},
        "notifications.tasks.report_*": {"queue": "reports"},
        "notifications.tasks.*": {"queue": "notifications"},
    },
    broker_connection_retry_on_startup=True,
    # Workers and beat reconnect to the broker for as long as it takes (a limit here makes
    # every worker exit during a broker outage longer than the retries).
    broker_connection_max_retries=None,
    # A publish is one attempt, bounded by the Redis timeouts in settings: when the broker is
    # down the request path answers 503 (direct) or leaves the outbox row to the sweep (cqrs)
    # within about REDIS_SOCKET_TIMEOUT, and a consumer retries its whole task. Retrying the
    # publish itself only multiplies that wait when the broker hangs (measured: 2 s -> 6 s).
    # One exception, in kernel/broker.py: a pooled connection found dead (the broker restarted
    # while it sat idle) fails at once, and that publish is tried again on a new connection.
    # broker_connection_timeout: CELERY_BROKER_CONNECTION_TIMEOUT in settings (REDIS_CONNECT_TIMEOUT).
    task_publish_retry=False,
    # Messages the worker cannot decode or route become dead letters instead of being dropped.
    worker_consumer="adplatform.kernel.task_base:DeadLetteringConsumer",
    worker_cancel_long_running_tasks_on_connection_loss=True,
    worker_send_task_events=False,
    timezone="UTC",
)


@app.on_after_configure.connect
def _periodic_jobs(sender, **kwargs):
    """The beat schedule (beat_schedule.py), built once the app has read Django's settings:
    this module reads none at import (settings modules import it)."""
    from adplatform.beat_schedule import beat_schedule

    sender.conf.beat_schedule = beat_schedule()


@worker_init.connect
@beat_init.connect
def _refuse_unsafe_settings(**kwargs):
    """A worker or beat does not start on settings that break a guarantee (checks.py); web
    processes refuse them in wsgi.py, management commands through Django's system checks."""
    from django.core.exceptions import ImproperlyConfigured

    from adplatform.checks import refuse_unsafe_settings

    try:
        refuse_unsafe_settings()
    except ImproperlyConfigured as exc:
        raise SystemExit(f"adplatform: {exc}") from exc  # Celery logs and ignores a plain exception here


@worker_init.connect
def _collect_cycles_less_often(**kwargs):
    """GC_THRESHOLD (settings), set before the pool starts: its processes are forked from this
    one and keep the collector's thresholds."""
    from adplatform.kernel.collector import collector_threshold_apply

    collector_threshold_apply()


app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(sender=None, **kwargs):
    """Around each task, what Django does around each request: close a connection that broke
    or is older than CONN_MAX_AGE, keep the rest (CELERY_DB_REUSE_MAX in settings). Not for a
    task applied eagerly in a caller's transaction, which closing would end."""
    if sender is not None and not getattr(sender.request, "is_eager", False):
        close_old_connections()
