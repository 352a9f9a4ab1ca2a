"""The retailer's commands through HTTP and real Celery workers, in each intake mode: a
change judged by the consumers (the approved version serving meanwhile), pause, resume and
withdraw; a stale If-Match; withdrawing an ad held for review. The order of two changes:
test_command_order.py."""

import pytest

from ads_write.models import Ad, AdChange
from ads_write.services.decisions import DecisionError, ad_decide
from ads_write.services.reviews import next_for_review
from audit.models import AuditEntry
from tests.conftest import wait_for
from tests.factories import ad_payload

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

HELD = ad_payload(
    headline="Noise-cancelling headphones",
    description="Thirty hours of battery.",
    landing_url="https://xn--acme-stre-p7a.example/headphones",
    display_url=None,
    category="electronics",
)


def patch(api, ad_id, fields, version):
    return api.session.patch(
        f"{api.base_url}/api/v1/ads/{ad_id}", json=fields, headers={"If-Match": f'"{version}"'}, timeout=30
    )


def read_until(api, ad_id, predicate, what):
    def check():
        body = api.get(f"/api/v1/ads/{ad_id}").json()
        return body if predicate(body) else None

    return wait_for(check, timeout=90, what=what)


@pytest.mark.parametrize("mode", ["sync", "cqrs", "direct"])
def test_change_pause_resume_withdraw_in_every_mode(live_api, intake_mode, mode):
    intake_mode(mode)
    submitted = live_api.post("/api/v1/ads", ad_payload(external_ref=f"cmd-{mode}"))
    ad = live_api.wait_final(submitted.json()["id"])
    assert ad["status"] == "approved"
    read = live_api.get(f"/api/v1/ads/{ad['id']}")
    assert read.headers["ETag"] == f'"{ad["version"]}"'

    changed = patch(live_api, ad["id"], {"headline": "Trail running shoes, winter sale"}, ad["version"])
    assert changed.status_code == (200 if mode == "sync" else 202), changed.text
    assert changed.headers["ETag"] == f'"{changed.json()["version"]}"'
    judged = read_until(
        live_api, ad["id"], lambda b: b["headline"].endswith("winter sale") and b["change"] is None, "the judged change"
    )
    assert judged["status"] == "approved" and judged["version"] == ad["version"] + 2

    for action, expected in (("pause", True), ("resume", False)):
        answer = live_api.post(f"/api/v1/ads/{ad['id']}/{action}")
        assert answer.status_code in (200, 202), answer.text
        read_until(live_api, ad["id"], lambda b, e=expected: b["paused"] is e, f"{action}d")

    withdrawn = live_api.post(f"/api/v1/ads/{ad['id']}/withdraw")
    assert withdrawn.status_code in (200, 202) and withdrawn.json()["status"] == "withdrawn"
    final = read_until(live_api, ad["id"], lambda b: b["status"] == "withdrawn", "withdrawn")
    assert final["version"] == ad["version"] + 5 and final["withdrawn_at"]
    again = patch(live_api, ad["id"], {"headline": "Once more"}, final["version"])
    assert again.status_code == 409 and again.json()["type"].endswith("/ad-not-changeable")
    actions = list(AuditEntry.objects.filter(ad_id=ad["id"]).order_by("sequence").values_list("action", flat=True))
    assert actions == [
        "ad.submitted",
        "ad.validated",
        "ad.change_requested",
        "ad.changed",
        "ad.paused",
        "ad.resumed",
        "ad.withdrawn",
    ]


@pytest.mark.parametrize("mode", ["cqrs", "direct"])
def test_a_change_on_a_stale_version_is_refused_with_412(live_api, intake_mode, mode):
    intake_mode(mode)
    ad = live_api.wait_final(live_api.post("/api/v1/ads", ad_payload(external_ref="stale")).json()["id"])
    first = patch(live_api, ad["id"], {"description": "Grippy soles, now in blue."}, ad["version"])
    assert first.status_code == 202, first.text
    read_until(live_api, ad["id"], lambda b: b["description"] == "Grippy soles, now in blue.", "the first change")
    # A second client still holds the ETag it read before the first change.
    stale = patch(live_api, ad["id"], {"description": "Grippy soles, now in red."}, ad["version"])
    assert stale.status_code == 412, stale.text
    assert stale.headers["Content-Type"] == "application/problem+json"
    assert stale.json()["current_version"] == ad["version"] + 2
    assert Ad.objects.get(id=ad["id"]).description == "Grippy soles, now in blue."
    assert AdChange.objects.filter(ad_id=ad["id"]).count() == 1


@pytest.mark.parametrize("mode", ["sync", "cqrs", "direct"])
def test_an_ad_held_for_review_is_withdrawn_and_leaves_the_queue(live_api, intake_mode, mode):
    intake_mode(mode)
    held = live_api.wait_final(live_api.post("/api/v1/ads", HELD).json()["id"])
    assert held["status"] == "needs_review"
    assert next_for_review(reviewer="rita").id == Ad.objects.get(id=held["id"]).id

    withdrawn = live_api.post(f"/api/v1/ads/{held['id']}/withdraw")
    assert withdrawn.status_code in (200, 202), withdrawn.text
    read_until(live_api, held["id"], lambda b: b["status"] == "withdrawn", "withdrawn")
    assert next_for_review(reviewer="rita") is None
    with pytest.raises(DecisionError):
        ad_decide(ad_id=held["id"], status="approved", reviewer="rita", reason="Looks fine.")
    assert live_api.get("/api/v1/ads/failed").json()["results"] == []
