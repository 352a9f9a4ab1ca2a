import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, worker_env

DEAD_REDIS = "redis://127.0.0.1:1/0"
DEAD_DATABASE = "postgres://postgres@127.0.0.1:1/adplatform"
READYZ = "import django; django.setup(); from django.test import Client; r = Client().get('/readyz'); print(r.status_code, r.content.decode())"


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_broker_and_cache(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "cache": "ok"}


@pytest.mark.django_db
def test_readyz_without_a_broker_is_a_503_problem_naming_it_without_error_text(client, monkeypatch, caplog):
    from adplatform.celery import app

    monkeypatch.setattr(app.conf, "broker_write_url", DEAD_REDIS)  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503 and response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/unavailable") and problem["status"] == 503
    assert problem["request_id"] == response["X-Request-ID"]
    assert problem["checks"] == {"database": "ok", "broker": "failing", "cache": "ok"}
    assert problem["detail"] == "Not ready: broker."
    # The error itself (host, port, the library's words) is in the log only.
    assert "127.0.0.1:1" not in response.content.decode() and "Error" not in response.content.decode()
    assert any("readiness check broker failed" in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    "down",
    [{"REDIS_URL": DEAD_REDIS}, {"REDIS_URL": DEAD_REDIS, "DATABASE_URL": DEAD_DATABASE}],
    ids=["redis", "redis+database"],
)
def test_readyz_is_503_naming_what_is_unreachable_and_logging_why(down):
    # A process of its own, configured against a Redis (and a PostgreSQL) that nobody serves.
    done = subprocess.run(
        [sys.executable, "-c", READYZ], cwd=ROOT, env=worker_env(**down), capture_output=True, text=True, timeout=60
    )
    status, _, body = done.stdout.strip().partition(" ")
    assert status == "503", done.stdout + done.stderr
    checks = json.loads(body)["checks"]
    assert checks == {
        "database": "failing" if "DATABASE_URL" in down else "ok",
        "broker": "failing",
        "cache": "failing",
    }
    # No host, port, role or driver message reaches the prober; the log has them.
    for leak in ("127.0.0.1", ":1", "postgres", "refused", "Error"):
        assert leak not in body, leak
    assert "readiness check cache failed" in done.stderr and "Connection" in done.stderr
    if "DATABASE_URL" in down:
        assert "readiness check database failed" in done.stderr
