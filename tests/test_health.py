import pytest


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_readyz_without_a_broker_is_a_503_problem_naming_it(client, monkeypatch):
    from adplatform.celery import app

    monkeypatch.setattr(app.conf, "broker_write_url", "redis://127.0.0.1:1/0")  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503 and response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/unavailable") and problem["status"] == 503
    assert problem["request_id"] == response["X-Request-ID"]
    assert problem["checks"]["database"] == "ok" and problem["checks"]["broker"] != "ok"
    assert "broker" in problem["detail"]
