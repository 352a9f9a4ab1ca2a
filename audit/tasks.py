from celery import shared_task
from django.conf import settings

from .anchors import audit_anchor_publish


@shared_task(bind=True, name="audit.tasks.maintenance_audit_anchor_task")
def maintenance_audit_anchor_task(self):
    """Publish the audit chains' heads outside the database (beat, daily at AUDIT_ANCHOR_AT)."""
    path = audit_anchor_publish(folder=settings.AUDIT_ANCHOR_DIR, recipients=settings.AUDIT_ANCHOR_EMAILS)
    return str(path) if path else None
