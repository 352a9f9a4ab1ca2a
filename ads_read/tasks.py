"""Projection consumers (queue `projections`)."""

from celery import shared_task
from django.conf import settings

from adplatform.kernel.task_base import PipelineTask, PoisonMessage

from .projections import ads_project
from .sweep import read_model_reconcile


@shared_task(base=PipelineTask, bind=True, name="ads_read.tasks.project_ads_task")
def project_ads_task(self, ad_ids):
    if not isinstance(ad_ids, list):
        raise PoisonMessage(f"project_ads_task takes a list of ad ids, got {type(ad_ids).__name__}")
    try:
        return ads_project(ad_ids=ad_ids)
    except ValueError as exc:  # an id that is no UUID: no retry can fix it
        raise PoisonMessage(str(exc)) from exc


@shared_task(bind=True, name="ads_read.tasks.maintenance_read_model_reconcile_task")
def maintenance_read_model_reconcile_task(self):
    """Project again the ads whose read row is missing or older (their projection message
    was lost); beat runs it every READ_MODEL_SWEEP_INTERVAL seconds."""
    return read_model_reconcile(
        lookback_seconds=settings.READ_MODEL_SWEEP_LOOKBACK,
        grace_seconds=settings.READ_MODEL_SWEEP_GRACE,
        limit=settings.READ_MODEL_SWEEP_LIMIT,
    )
