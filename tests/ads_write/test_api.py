"""The submit API on the request path: auth, basic validation, problem details."""

import json

import pytest
import redis
from django.conf import settings

from ads_write.models import Ad, OutboxMessage
from audit.models import AuditEntry
from tests.factories import ad_payload

pytestmark = pytest.mark.django_db


def queue_length(name="intake") -> int:
    return redis.Redis.from_url(settings.REDIS_URL).llen(name)


BAD_BODIES = [
    ad_payload(headline=None),
    ad_payload(headline="x" * 91),
    ad_payload(landing_url="http://insecure.example"),
    ad_payload(country="usa"),
    ad_payload(language="english"),
    ad_payload(category="weapons"),
    ad_payload(price={"amount": "1.234", "currency": "USD"}),
    ad_payload(price={"amount": "5", "currency": "XYZ"}),
    ad_payload(target_min_age=12),
    ad_payload(ends_at="2001-01-01T00:00:00Z"),
    ad_payload(headline="bell\x07"),
    ad_payload(unknown="x"),
]


@pytest.mark.parametrize("mode", ["sync", "cqrs", "direct"])
@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_ads_get_400_problem_details_and_create_nothing(api, intake_mode, mode, body):
    intake_mode(mode)
    before = queue_length()
    response = api.post("/api/v1/ads", body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/validation-error") and problem["status"] == 400
    assert problem["errors"] and all({"field", "code", "message"} <= set(e) for e in problem["errors"])
    assert all(e["code"].startswith("BASIC.") for e in problem["errors"])
    assert Ad.objects.count() == 0 and OutboxMessage.objects.count() == 0
    assert not AuditEntry.objects.filter(action="ad.submitted").exists()
    assert queue_length() == before


def test_unauthenticated_is_401_with_www_authenticate(client):
    response = client.post("/api/v1/ads", ad_payload(), content_type="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer adp_123_456", "Basic dXNlcjpwYXNz", "Bearer "])
def test_bad_credentials_are_401(client, header):
    response = client.get("/api/v1/ads", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "Bearer" in response["WWW-Authenticate"]


def test_malformed_json_is_400_and_non_json_is_415(api):
    response = api.generic("POST", "/api/v1/ads", "{not json", content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    response = api.generic("POST", "/api/v1/ads", "headline=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_body_over_64_kib_is_413(api):
    body = json.dumps(ad_payload(description="x" * (65 * 1024)))
    response = api.generic("POST", "/api/v1/ads", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")
    assert Ad.objects.count() == 0


def test_every_response_has_a_request_id(api):
    response = api.get("/api/v1/ads", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert api.get("/api/v1/ads/nope").json()["request_id"]
