"""GC_THRESHOLD: the web process (adplatform/wsgi.py) and the Celery worker, as it starts and
before its pool processes are forked from it (adplatform/celery.py), set the cycle
collector's first threshold (kernel/collector.py)."""

import gc
import subprocess
import sys

import pytest
from celery.signals import worker_init

from adplatform.celery import _collect_cycles_less_often
from adplatform.kernel.collector import collector_threshold_apply
from tests.conftest import ROOT, worker_env


@pytest.fixture
def thresholds():
    kept = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # the interpreter's default
    yield
    gc.set_threshold(*kept)


def test_the_collector_runs_at_the_setting(settings, thresholds):
    settings.GC_THRESHOLD = 12_345
    collector_threshold_apply()
    assert gc.get_threshold() == (12_345, 10, 10)


def test_zero_keeps_the_interpreters_thresholds(settings, thresholds):
    settings.GC_THRESHOLD = 0
    collector_threshold_apply()
    assert gc.get_threshold() == (700, 10, 10)


def test_the_worker_sets_it_as_it_starts(settings, thresholds):
    assert _collect_cycles_less_often in [receiver() for _, receiver in worker_init.receivers]
    settings.GC_THRESHOLD = 23_456
    _collect_cycles_less_often()
    assert gc.get_threshold() == (23_456, 10, 10)


def test_a_web_process_runs_on_the_shipped_default():
    show = "import gc; import adplatform.wsgi; print(gc.get_threshold()[0])"
    env = {k: v for k, v in worker_env().items() if k != "GC_THRESHOLD"}
    done = subprocess.run([sys.executable, "-c", show], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["10000"], done.stderr
