"""validate_only=true: basic and detailed validation answered at once, nothing kept."""

import json

import pytest
import redis
from django.conf import settings

from ads_read.models import AdView
from ads_read.pending import pending_key
from ads_write.models import Ad, IdempotencyKey, OutboxMessage
from audit.models import AuditEntry
from tests.conftest import client_for
from tests.factories import RetailerFactory, ad_payload

pytestmark = pytest.mark.django_db


def post(api, path, body):
    return api.generic("POST", path, json.dumps(body), content_type="application/json")


def kept() -> tuple:
    """Everything a submission would leave behind: rows, queued messages, pending markers."""
    broker = redis.Redis.from_url(settings.REDIS_URL)
    return (
        Ad.objects.count(),
        OutboxMessage.objects.count(),
        AuditEntry.objects.filter(action__startswith="ad.").count(),
        AdView.objects.count(),
        IdempotencyKey.objects.count(),
        broker.llen("intake"),
        len(broker.keys(pending_key("*"))),
    )


@pytest.mark.parametrize("mode", ["sync", "cqrs", "direct"])
def test_a_dry_run_answers_the_would_be_status_and_findings_and_keeps_nothing(api, intake_mode, mode):
    intake_mode(mode)
    before = kept()
    clean = post(api, "/api/v1/ads?validate_only=true", ad_payload())
    assert clean.status_code == 200
    assert clean.json()["status"] == "approved" and clean.json()["findings"] == []
    assert clean.json()["ruleset_version"]

    shouting = post(api, "/api/v1/ads?validate_only=true", ad_payload(category="tobacco", headline="BUY NOW!! CIGARS"))
    verdict = shouting.json()
    assert shouting.status_code == 200 and verdict["status"] == "rejected"
    codes = {f["code"] for f in verdict["findings"]}
    assert {"COMPLIANCE.PROHIBITED_CATEGORY", "POLICY.EXCESSIVE_PUNCTUATION", "POLICY.EXCESSIVE_CAPS"} <= codes
    assert all({"code", "category", "severity", "message", "field", "evidence"} <= set(f) for f in verdict["findings"])
    assert kept() == before


def test_a_dry_run_that_fails_basic_validation_is_the_usual_400(api):
    response = post(api, "/api/v1/ads?validate_only=1", ad_payload(landing_url="ftp://x"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "BASIC.INVALID_URL"


def test_a_dry_run_knows_the_retailer_for_its_trademark_rule(db):
    headline = {"headline": "AcmePhone cases"}
    owner = post(client_for(RetailerFactory(name="Acme")), "/api/v1/ads?validate_only=true", ad_payload(**headline))
    other = post(client_for(RetailerFactory(name="Copycat")), "/api/v1/ads?validate_only=true", ad_payload(**headline))
    assert owner.json()["status"] == "approved"
    assert other.json()["status"] == "needs_review"
    assert [f["code"] for f in other.json()["findings"]] == ["POLICY.TRADEMARK"]


def test_a_batch_dry_run_gives_every_item_its_result_and_keeps_nothing(api, intake_mode):
    intake_mode("direct")
    before = kept()
    ads = [ad_payload(), ad_payload(headline=None), ad_payload(category="firearms")]
    response = post(api, "/api/v1/ads/batch?validate_only=true", {"ads": ads})
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted_count"], body["failed_count"]) == (2, 1)
    first, second, third = body["results"]
    assert (first["index"], first["status"], first["findings"]) == (0, "approved", [])
    assert second["index"] == 1 and second["errors"][0]["field"] == "headline"
    assert third["status"] == "rejected" and third["findings"][0]["code"] == "COMPLIANCE.PROHIBITED_CATEGORY"
    assert "id" not in first
    assert kept() == before


@pytest.mark.parametrize("value", ["yes", "2", "maybe"])
def test_validate_only_must_be_a_boolean(api, value):
    response = post(api, f"/api/v1/ads?validate_only={value}", ad_payload())
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "validate_only"
    assert not Ad.objects.exists()
