"""HTTP → (broker → real Celery workers) → read model → read API, in each intake mode, on
each broker (Redis, RabbitMQ)."""

import pytest

from ads_write.models import Ad, Verdict
from audit.models import AuditEntry
from tests.conftest import on_both_brokers
from tests.factories import ad_payload

# The web and the workers reach PostgreSQL through PgBouncer in transaction mode (tests/pgbouncer.py).
pytestmark = [
    pytest.mark.pipeline,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("through_pgbouncer"),
]

CLEAN = ad_payload(external_ref="clean")
PROHIBITED = ad_payload(external_ref="tobacco", category="tobacco", headline="Fine cigars")


@on_both_brokers
@pytest.mark.parametrize("mode, accepted_status", [("sync", 201), ("cqrs", 202), ("direct", 202)])
def test_ads_reach_their_final_state_in_every_mode(live_api, intake_mode, mode, accepted_status):
    intake_mode(mode)
    answers = [live_api.post("/api/v1/ads", body) for body in (CLEAN, PROHIBITED)]
    assert [a.status_code for a in answers] == [accepted_status] * 2, [a.text for a in answers]
    ids = [a.json()["id"] for a in answers]
    for answer in answers:
        assert answer.headers["Location"].endswith(answer.json()["id"])
        if mode != "sync":
            assert answer.json()["status"] == "pending"

    # Read-your-writes: readable at once, never a bare 404.
    for ad_id in ids:
        first_read = live_api.get(f"/api/v1/ads/{ad_id}")
        assert first_read.status_code == 200
        assert first_read.json()["status"] in {"pending", "approved", "rejected"}

    clean, prohibited = (live_api.wait_final(ad_id) for ad_id in ids)
    assert clean["status"] == "approved" and clean["findings"] == []
    assert prohibited["status"] == "rejected"
    assert "COMPLIANCE.PROHIBITED_CATEGORY" in {f["code"] for f in prohibited["findings"]}
    assert all(
        {"code", "category", "severity", "message", "field", "evidence"} <= set(f) for f in prohibited["findings"]
    )
    assert clean["reviewed_at"] and clean["submitted_at"] and clean["version"] == 2

    for ad_id in ids:
        assert Verdict.objects.filter(ad_id=ad_id).count() == 1
        actions = list(AuditEntry.objects.filter(ad_id=ad_id).order_by("sequence").values_list("action", flat=True))
        assert actions == ["ad.submitted", "ad.validated"]
    assert Ad.objects.count() == 2


@on_both_brokers
def test_lists_and_failed_ads_come_from_the_read_side(live_api, intake_mode):
    intake_mode("direct")
    ids = [
        live_api.post("/api/v1/ads", ad_payload(external_ref=f"ad-{i}", category=c)).json()["id"]
        for i, c in enumerate(["sports", "tobacco", "home", "firearms", "toys"])
    ]
    for ad_id in ids:
        live_api.wait_final(ad_id)

    page = live_api.get("/api/v1/ads", params={"page_size": 2}).json()
    seen = [ad["id"] for ad in page["results"]]
    while page["next"]:
        assert "cursor=" in page["next"]
        page = live_api.session.get(page["next"]).json()
        seen += [ad["id"] for ad in page["results"]]
    assert seen == sorted(ids, reverse=True)  # newest first, each once

    failed = live_api.get("/api/v1/ads/failed").json()["results"]
    assert {ad["external_ref"] for ad in failed} == {"ad-1", "ad-3"}
    rejected = live_api.get("/api/v1/ads", params={"status": "rejected"}).json()["results"]
    assert {ad["id"] for ad in rejected} == {ad["id"] for ad in failed}
    by_code = live_api.get("/api/v1/ads", params={"finding_code": "COMPLIANCE.PROHIBITED_CATEGORY"}).json()
    assert len(by_code["results"]) == 2


def test_a_retailer_never_sees_another_retailers_ads(live_api, live_api_for, other_retailer, intake_mode):
    intake_mode("direct")
    ad_id = live_api.post("/api/v1/ads", CLEAN).json()["id"]
    other = live_api_for(other_retailer)
    assert other.get(f"/api/v1/ads/{ad_id}").status_code == 404  # even while pending
    live_api.wait_final(ad_id)
    assert other.get(f"/api/v1/ads/{ad_id}").status_code == 404
    assert other.get("/api/v1/ads").json()["results"] == []
