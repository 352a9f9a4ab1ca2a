"""The base class of every pipeline consumer: bounded retries with capped exponential
backoff and jitter, then a dead letter that staff can see and replay."""

import logging

from celery import Task
from django.conf import settings

logger = logging.getLogger(__name__)


class PoisonMessage(ValueError):
    """A message that no retry can fix (undecodable, wrong schema): dead-letter it at once."""


class PipelineTask(Task):
    autoretry_for = (Exception,)
    dont_autoretry_for = (PoisonMessage,)
    retry_backoff = True
    retry_backoff_max = 120  # seconds; far below the broker's visibility timeout
    retry_jitter = True
    acks_late = True
    reject_on_worker_lost = True

    @property
    def max_retries(self):
        return settings.PIPELINE_MAX_RETRIES

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        dead_letter_record(task_name=self.name, task_id=task_id, args=args, kwargs=kwargs, error=exc, traceback=str(einfo))


def dead_letter_record(*, task_name, task_id="", args=(), kwargs=None, error, traceback="") -> None:
    from .models import DeadLetter

    try:
        DeadLetter.objects.create(
            task_name=task_name,
            task_id=task_id or "",
            args=list(args),
            kwargs=dict(kwargs or {}),
            error=f"{type(error).__name__}: {error}",
            traceback=traceback,
        )
    except Exception:  # the database itself is down: the log is the last record
        logger.critical("could not record dead letter for %s %s args=%r", task_name, task_id, args, exc_info=True)
    else:
        logger.error("dead letter: %s %s: %s", task_name, task_id, error)
