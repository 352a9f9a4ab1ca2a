"""WORKER_GC_THRESHOLD: the Celery worker sets the cycle collector's first threshold as it
starts, before its pool processes are forked from it (adplatform/celery.py)."""

import gc

import pytest
from celery.signals import worker_init

from adplatform.celery import _collect_cycles_less_often


@pytest.fixture
def thresholds():
    kept = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # the interpreter's default
    yield
    gc.set_threshold(*kept)


def test_the_worker_collects_cycles_at_the_setting(settings, thresholds):
    settings.WORKER_GC_THRESHOLD = 12_345
    _collect_cycles_less_often()
    assert gc.get_threshold() == (12_345, 10, 10)


def test_zero_keeps_the_interpreters_thresholds(settings, thresholds):
    settings.WORKER_GC_THRESHOLD = 0
    _collect_cycles_less_often()
    assert gc.get_threshold() == (700, 10, 10)


def test_it_runs_as_the_worker_starts():
    assert _collect_cycles_less_often in [receiver() for _, receiver in worker_init.receivers]


def test_the_default_is_raised(settings):
    assert settings.WORKER_GC_THRESHOLD > 700
