"""The periodic jobs Celery beat sends, beside the Celery app that runs them (celery.py sets
it as `beat_schedule` once the app is configured). Each entry names its task; the task's
module says what it does. Intervals and times come from the settings of each job."""

from celery.schedules import crontab
from django.conf import settings

from notifications.schedules import daily_at


def beat_schedule() -> dict:
    return {
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
        "purge-content-fingerprints": {
            "task": "ads_write.tasks.maintenance_purge_fingerprints_task",
            "schedule": crontab(hour=3, minute=30),
        },
        "purge-outbox": {
            "task": "ads_write.tasks.maintenance_outbox_purge_task",
            "schedule": crontab(hour=3, minute=45),
        },
        "report-daily-failed-ads": {
            "task": "notifications.tasks.report_daily_failed_ads_task",
            "schedule": daily_at(settings.REPORT_DAILY_AT, zone=settings.REPORT_TIMEZONE),
        },
        "webhook-sweep": {
            "task": "notifications.tasks.webhook_sweep_task",
            "schedule": 10.0,
            "options": {"expires": 10},
        },
        "read-model-sweep": {
            "task": "ads_read.tasks.maintenance_read_model_reconcile_task",
            "schedule": float(settings.READ_MODEL_SWEEP_INTERVAL),
            "options": {"expires": settings.READ_MODEL_SWEEP_INTERVAL},
        },
        "audit-anchor": {
            "task": "audit.tasks.maintenance_audit_anchor_task",
            "schedule": daily_at(settings.AUDIT_ANCHOR_AT, zone="UTC"),
        },
        "purge-idempotency-keys": {
            "task": "ads_write.tasks.maintenance_idempotency_purge_task",
            "schedule": 3600.0,
            "options": {"expires": 600},
        },
    }
