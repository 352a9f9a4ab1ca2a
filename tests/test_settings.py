"""Settings that would break a guarantee refuse to load: Redis redelivering messages whose
worker is alive, changes slipping past the read-model sweep."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT, worker_env


def load_settings(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; settings.INSTALLED_APPS"],
        cwd=ROOT,
        env=worker_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "setting, bound, others",
    [
        # Redis would hand a live worker's messages to another after a couple of missed lease
        # renewals.
        ("BROKER_VISIBILITY_TIMEOUT", 30, {"BROKER_LEASE_RENEW_INTERVAL": "10"}),
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


def test_the_env_file_is_read_before_the_data_folder_is_chosen(tmp_path):
    # ADPLATFORM_DATA_DIR set in the .env file (not the process environment) moves the
    # embedded default's database there (the folder exists at start-up), and, with the
    # embedded Redis off, the folder broker's folders.
    data = tmp_path / "data"
    env_file = tmp_path / "env"
    env_file.write_text(f"ADPLATFORM_DATA_DIR={data}\nDEBUG=true\n")
    env = worker_env(ADPLATFORM_ENV_FILE=str(env_file), DATABASE_URL="", REDIS_URL="", PROMETHEUS_MULTIPROC_DIR="")
    for name in ("DATABASE_URL", "REDIS_URL", "ADPLATFORM_DATA_DIR", "PROMETHEUS_MULTIPROC_DIR", "DEBUG"):
        env.pop(name, None)

    def settings_of(**overrides):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "from django.conf import settings as s; print(s.DATABASES['default']['NAME'], s.DEBUG)",
            ],
            cwd=ROOT,
            env={**env, **overrides},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert settings_of() == [str(data / "adplatform.sqlite3"), "True"]
    assert data.is_dir()
    settings_of(EMBEDDED_REDIS="false")
    assert (data / "broker" / "messages").is_dir() and (data / "broker" / "control").is_dir()
