"""Python's cycle collector in the platform's long-running processes (the web's and the
workers'): how often it runs (settings.GC_THRESHOLD)."""

import gc

from django.conf import settings


def collector_threshold_apply() -> None:
    """The collector's first threshold from GC_THRESHOLD (0: the interpreter's own). Run it
    before a process forks the ones that do the work (a Celery pool): they keep it."""
    threshold = settings.GC_THRESHOLD
    if threshold > 0:
        _, *older = gc.get_threshold()
        gc.set_threshold(threshold, *older)
