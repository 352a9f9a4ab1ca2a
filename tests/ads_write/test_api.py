"""The submit API on the request path: auth, basic validation, problem details."""

import json
import uuid

import pytest
import redis
from django.conf import settings

from ads_read.pending import pending_key
from ads_write.models import Ad, OutboxMessage
from audit.models import AuditEntry
from tests.ads_write.test_basic_validation import BASIC_RULE_CASES
from tests.factories import ad_payload

pytestmark = pytest.mark.django_db


def queue_length(name="intake") -> int:
    return redis.Redis.from_url(settings.REDIS_URL).llen(name)


def pending_markers() -> int:
    return sum(1 for _ in redis.Redis.from_url(settings.REDIS_URL).scan_iter(pending_key("*")))


# Every basic rule of AD_POLICY.md (one bad ad each), and more values clients get wrong.
BAD_ADS = BASIC_RULE_CASES + [
    ({"country": "usa"}, ("country", "BASIC.INVALID_CODE")),
    ({"language": "english"}, ("language", "BASIC.INVALID_CODE")),
    ({"price": {"amount": "5", "currency": "XYZ"}}, ("price.currency", "BASIC.INVALID_CODE")),
    ({"headline": "bell\x07"}, ("headline", "BASIC.INVALID_VALUE")),
]


def assert_nothing_created(*, queued_before: int, markers_before: int) -> None:
    assert Ad.objects.count() == 0 and OutboxMessage.objects.count() == 0
    assert not AuditEntry.objects.filter(action="ad.submitted").exists()
    assert queue_length() == queued_before and pending_markers() == markers_before


@pytest.mark.parametrize("mode", ["sync", "cqrs", "direct"])
@pytest.mark.parametrize("overrides, expected", BAD_ADS)
def test_bad_ads_get_400_problem_details_and_create_nothing(api, intake_mode, mode, overrides, expected):
    intake_mode(mode)
    queued_before, markers_before = queue_length(), pending_markers()
    response = api.post("/api/v1/ads", ad_payload(**overrides), format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/validation-error") and problem["status"] == 400
    assert problem["errors"] and all({"field", "code", "message"} <= set(e) for e in problem["errors"])
    assert all(e["code"].startswith("BASIC.") for e in problem["errors"])
    assert expected in {(e["field"], e["code"]) for e in problem["errors"]}
    assert_nothing_created(queued_before=queued_before, markers_before=markers_before)


@pytest.mark.parametrize("body", ["null", "[]", '"an ad"', "3", "[{}]"])
def test_a_body_that_is_not_an_ad_object_is_400_and_creates_nothing(api, body):
    queued_before, markers_before = queue_length(), pending_markers()
    response = api.generic("POST", "/api/v1/ads", body, content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"]
    assert_nothing_created(queued_before=queued_before, markers_before=markers_before)


@pytest.mark.parametrize(
    "mode, code, status", [("sync", 201, "approved"), ("cqrs", 202, "pending"), ("direct", 202, "pending")]
)
def test_an_accepted_ad_is_answered_with_its_time_ordered_id_and_status(api, intake_mode, mode, code, status):
    intake_mode(mode)
    answers = [api.post("/api/v1/ads", ad_payload(external_ref=f"ref-{n}"), format="json") for n in range(3)]
    assert [(a.status_code, a.json()["status"]) for a in answers] == [(code, status)] * 3
    ids = [uuid.UUID(a.json()["id"]) for a in answers]
    assert {i.version for i in ids} == {7} and ids == sorted(ids)  # UUIDv7: in the order made
    assert all(a["Location"] == f"/api/v1/ads/{i}" for a, i in zip(answers, ids, strict=True))


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
