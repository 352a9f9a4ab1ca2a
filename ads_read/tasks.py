"""Projection consumers (queue `projections`)."""

from celery import shared_task

from adplatform.kernel.pipeline import PipelineTask, PoisonMessage

from .projections import ads_project


@shared_task(base=PipelineTask, bind=True, name="ads_read.tasks.project_ads_task")
def project_ads_task(self, ad_ids):
    if not isinstance(ad_ids, list):
        raise PoisonMessage(f"project_ads_task takes a list of ad ids, got {type(ad_ids).__name__}")
    try:
        return ads_project(ad_ids=ad_ids)
    except ValueError as exc:  # an id that is no UUID: no retry can fix it
        raise PoisonMessage(str(exc)) from exc
