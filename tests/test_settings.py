"""Settings that would break a guarantee are refused (the system checks of adplatform/checks.py):
Redis redelivering messages whose worker is alive, a report sent twice, changes slipping past
the read-model sweep, an audit chain count or key id that cannot be, an unknown intake mode.
`manage.py check` reports them, and no web process, worker or beat starts on them."""

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from adplatform import checks
from ads_write.checks import intake_mode_is_known
from tests.conftest import ROOT, worker_env


def manage_check(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
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
    refused = manage_check(**{setting: str(bound)}, **others)
    assert refused.returncode != 0
    assert f"{setting} ({bound} s) must exceed" in refused.stderr
    assert manage_check(**{setting: str(bound + 1)}, **others).returncode == 0


@pytest.mark.parametrize(
    "check, bad, good, error_id",
    [
        (checks.audit_chain_count, {"AUDIT_CHAINS": 0}, {"AUDIT_CHAINS": 32767}, "adplatform.E001"),
        (checks.audit_chain_count, {"AUDIT_CHAINS": 32768}, {"AUDIT_CHAINS": 1}, "adplatform.E001"),
        (
            checks.broker_leases_outlast_renewals,
            {"BROKER_LEASE_RENEW_INTERVAL": 0},
            {"BROKER_LEASE_RENEW_INTERVAL": 5},
            "adplatform.E002",
        ),
        (checks.audit_key_id_names_a_key, {"AUDIT_HMAC_KEY_ID": "gone"}, {}, "adplatform.E005"),
        (intake_mode_is_known, {"AD_INTAKE_MODE": "async"}, {"AD_INTAKE_MODE": "cqrs"}, "ads_write.E001"),
    ],
)
def test_each_check_names_its_error_and_passes_a_sound_value(check, bad, good, error_id):
    with override_settings(**bad):
        assert [error.id for error in check()] == [error_id]
        with pytest.raises(ImproperlyConfigured, match=error_id):
            checks.refuse_unsafe_settings()
    with override_settings(**good):
        assert check() == []
    checks.refuse_unsafe_settings()  # the suite's own settings are sound


def test_no_worker_starts_on_settings_that_break_a_guarantee():
    # The web process refuses them in wsgi.py (test_wsgi.py loads it); a worker and beat at
    # Celery's worker_init / beat_init.
    refused = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "adplatform", "worker", "-Q", "none", "--loglevel", "WARNING"],
        cwd=ROOT,
        env=worker_env(AUDIT_CHAINS="0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode != 0
    assert "(adplatform.E001) AUDIT_CHAINS (0) must be between 1 and 32767." in refused.stderr


def test_the_env_file_is_read_before_the_data_folder_is_chosen(tmp_path):
    # ADPLATFORM_DATA_DIR set in the .env file (not the process environment) moves the
    # embedded default's database there (the folder exists once Django is set up: reading the
    # settings makes none), and, with the embedded Redis off, the folder broker's folders.
    data = tmp_path / "data"
    env_file = tmp_path / "env"
    env_file.write_text(f"ADPLATFORM_DATA_DIR={data}\nDEBUG=true\n")
    env = worker_env(ADPLATFORM_ENV_FILE=str(env_file), DATABASE_URL="", REDIS_URL="", PROMETHEUS_MULTIPROC_DIR="")
    for name in ("DATABASE_URL", "REDIS_URL", "ADPLATFORM_DATA_DIR", "PROMETHEUS_MULTIPROC_DIR", "DEBUG"):
        env.pop(name, None)

    def settings_of(setup="import django; django.setup(); ", **overrides):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                setup + "from django.conf import settings as s; print(s.DATABASES['default']['NAME'], s.DEBUG)",
            ],
            cwd=ROOT,
            env={**env, **overrides},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert settings_of(setup="") == [str(data / "adplatform.sqlite3"), "True"]
    assert not data.exists()
    assert settings_of() == [str(data / "adplatform.sqlite3"), "True"]
    assert data.is_dir()
    settings_of(EMBEDDED_REDIS="false")
    assert (data / "broker" / "messages").is_dir() and (data / "broker" / "control").is_dir()
