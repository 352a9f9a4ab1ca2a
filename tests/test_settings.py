"""Settings that would break a guarantee refuse to load: Redis redelivering messages still
being worked on, changes slipping past the read-model sweep."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT, worker_env


def load_settings(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.INSTALLED_APPS"],
        cwd=ROOT, env=worker_env(**env), capture_output=True, text=True, timeout=60,
    )


@pytest.mark.parametrize(
    "setting, bound, others",
    [
        # Redis would redeliver messages still being worked on.
        ("BROKER_VISIBILITY_TIMEOUT", 100, {"PIPELINE_RETRY_BACKOFF_MAX": "60", "CELERY_TASK_TIME_LIMIT": "40",
                                            "REPORT_SEND_TIME_LIMIT": "30", "REPORT_CLAIM_TIMEOUT": "35"}),
        # The report sender's own limit counts too.
        ("BROKER_VISIBILITY_TIMEOUT", 100, {"PIPELINE_RETRY_BACKOFF_MAX": "60", "CELERY_TASK_TIME_LIMIT": "10",
                                            "REPORT_SEND_TIME_LIMIT": "40", "REPORT_CLAIM_TIMEOUT": "45"}),
        # A report still being sent would be taken over and sent twice.
        ("REPORT_CLAIM_TIMEOUT", 40, {"REPORT_SEND_TIME_LIMIT": "40"}),
        # Changes would slip past the read-model sweep between two runs.
        ("READ_MODEL_SWEEP_LOOKBACK", 360, {"READ_MODEL_SWEEP_GRACE": "60", "READ_MODEL_SWEEP_INTERVAL": "300"}),
    ],
)
def test_a_setting_not_above_the_sum_of_others_is_refused(setting, bound, others):
    refused = load_settings(**{setting: str(bound)}, **others)
    assert refused.returncode != 0
    assert f"{setting} ({bound} s) must exceed" in refused.stderr
    assert load_settings(**{setting: str(bound + 1)}, **others).returncode == 0
