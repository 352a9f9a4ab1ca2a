"""Settings that would make Redis redeliver messages still being worked on refuse to load."""

import subprocess
import sys

from tests.conftest import ROOT, worker_env


def load_settings(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.INSTALLED_APPS"],
        cwd=ROOT, env=worker_env(**env), capture_output=True, text=True, timeout=60,
    )


def test_a_visibility_timeout_shorter_than_a_retry_plus_a_task_is_refused():
    refused = load_settings(BROKER_VISIBILITY_TIMEOUT="100", PIPELINE_RETRY_BACKOFF_MAX="60", CELERY_TASK_TIME_LIMIT="40")
    assert refused.returncode != 0
    assert "BROKER_VISIBILITY_TIMEOUT (100 s) must exceed" in refused.stderr
    assert load_settings(BROKER_VISIBILITY_TIMEOUT="101", PIPELINE_RETRY_BACKOFF_MAX="60",
                         CELERY_TASK_TIME_LIMIT="40").returncode == 0
