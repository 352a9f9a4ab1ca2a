"""The Celery app: the event pipeline between the command side and its consumers.

Delivery is at-least-once (DESIGN.md §4): a task is acknowledged only after it ran
(`acks_late`), a worker that dies mid-task hands its message back
(`task_reject_on_worker_lost`), and each worker takes one message at a time so a crash
loses at most that one to redelivery. Every consumer is therefore idempotent.
"""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adplatform.settings")

from django.conf import settings  # noqa: E402  (needs DJANGO_SETTINGS_MODULE, set above)

app = Celery("adplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")

# One queue per stage, so each scales on its own workers.
QUEUES = ("intake", "projections", "notifications", "reports", "maintenance")

app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_acks_on_failure_or_timeout=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    result_backend=None,
    task_ignore_result=True,
    task_default_queue="intake",
    task_queues=[Queue(name) for name in QUEUES],
    task_routes={
        "*.maintenance_*": {"queue": "maintenance"},
        "ads_read.tasks.report_*": {"queue": "reports"},
        "ads_write.tasks.*": {"queue": "intake"},
        "ads_read.tasks.*": {"queue": "projections"},
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
    broker_connection_timeout=settings.REDIS_CONNECT_TIMEOUT,
    task_publish_retry=False,
    # Messages the worker cannot decode or route become dead letters instead of being dropped.
    worker_consumer="adplatform.kernel.pipeline:DeadLetteringConsumer",
    worker_cancel_long_running_tasks_on_connection_loss=True,
    worker_send_task_events=False,
    timezone="UTC",
)

# Periodic jobs (Celery beat). Each entry names its task; the task's module says what it does.
app.conf.beat_schedule = {
    "outbox-sweep": {
        "task": "ads_write.tasks.maintenance_outbox_sweep_task",
        "schedule": settings.OUTBOX_SWEEP_INTERVAL,
        "options": {"expires": 30},
    },
    "reconcile-pending": {
        "task": "ads_write.tasks.maintenance_reconcile_pending_task",
        "schedule": float(settings.RECONCILE_PENDING_AFTER),
        "options": {"expires": settings.RECONCILE_PENDING_AFTER},
    },
}

app.autodiscover_tasks()
