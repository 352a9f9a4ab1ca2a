"""Appeals: POST /api/v1/ads/{id}/appeals (a rejected or staff-decided ad, once per verdict
version, idempotent, rate-limited, problems for every refusal); the staff queue and the
Reviewers' decision, which gives the ad a new verdict version; the webhook
`ad.appeal_decided`; the appeal in the read document, the audit timeline and the CSV."""

import json
import uuid
from io import StringIO

import pytest
from django.core.management import call_command

from adplatform.kernel.auth import forget_cached_keys
from ads_read.models import AdView
from ads_read.projections import ads_project
from ads_read.reports import FailedAdsReport
from ads_write.models import Ad, Appeal, Finding, Verdict
from ads_write.services.decisions import ad_decide
from ads_write.services.revalidation import REVALIDATOR_ACTOR, ads_revalidate
from ads_write.validation.ruleset import DEFAULT_RULESET, compile_ruleset
from audit.models import AuditEntry
from notifications.models import WebhookDelivery
from notifications.services import webhook_deliveries
from tests.factories import held_ad, submit_ad
from tests.notifications.conftest import local_webhooks, receiver  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

MESSAGE = "Our licence LIC-2291 is in the disclosure; the category is allowed for us."
APPEALS = "/admin/ads_write/appeal/"


def appeal(api, ad_id, message=MESSAGE, **headers):
    return api.post(f"/api/v1/ads/{ad_id}/appeals", {"message": message}, format="json", headers=headers)


def problem_type(response) -> str:
    assert response["Content-Type"] == "application/problem+json", response.content
    return response.json()["type"].rsplit("/", 1)[-1]


@pytest.fixture
def rejected(retailer):
    return submit_ad(retailer, category="tobacco", headline="Fine cigars", display_url=None)


def test_a_rejected_ad_is_appealed_once_and_the_read_document_shows_it(api, rejected):
    response = appeal(api, rejected.id)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["message"], body["verdict_version"], body["decision"]) == ("open", MESSAGE, 2, None)
    assert response["Location"] == f"/api/v1/ads/{rejected.id}"
    assert Ad.objects.get(id=rejected.id).version == 3
    entry = AuditEntry.objects.get(action="ad.appealed")
    assert entry.ad_id == rejected.id and entry.actor.startswith("retailer:") and entry.data["message"] == MESSAGE
    ads_project(ad_ids=[rejected.id])
    document = api.get(f"/api/v1/ads/{rejected.id}").json()
    assert document["appeal"] == body and document["status"] == "rejected" and document["version"] == 3
    again = appeal(api, rejected.id, message="Once more, with feeling, please.")
    assert again.status_code == 409 and problem_type(again) == "appeal-exists"
    assert again.json()["appeal_id"] == body["id"]


def test_refusals_are_problems(api, retailer, other_retailer, rejected):
    approved = submit_ad(retailer)
    held = held_ad(retailer)
    foreign = submit_ad(other_retailer, category="tobacco", display_url=None)
    for ad in (approved, held):
        refused = appeal(api, ad.id)
        assert refused.status_code == 409 and problem_type(refused) == "appeal-not-allowed"
    for ad_id in (foreign.id, uuid.uuid4(), "not-an-id"):
        missing = appeal(api, ad_id)
        assert missing.status_code == 404 and problem_type(missing) == "not-found"
    for message in ("", "   ", "x" * 2001):
        bad = appeal(api, rejected.id, message=message)
        assert bad.status_code == 400 and problem_type(bad) == "bad-request"
        assert bad.json()["errors"][0]["field"] == "message"
    assert not Appeal.objects.exists()


def test_appeals_are_idempotent_and_rate_limited(api, retailer, rejected):
    first = appeal(api, rejected.id, **{"Idempotency-Key": "appeal-1"})
    replay = appeal(api, rejected.id, **{"Idempotency-Key": "appeal-1"})
    assert first.status_code == replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json() and Appeal.objects.count() == 1
    retailer.rate_limit_per_minute = 1
    retailer.save()
    forget_cached_keys()  # the key's retailer is cached with its quota
    other = submit_ad(retailer, category="tobacco", display_url=None, external_ref="B")
    answers = [appeal(api, other.id, **{"Idempotency-Key": f"k{n}"}) for n in range(2)]
    assert answers[-1].status_code == 429 and problem_type(answers[-1]) == "rate-limited"


def decide(client, appeal_id, decision="approved", reason_code="LICENSED_ADVERTISER", **extra):
    item = Appeal.objects.get(id=appeal_id)
    data = {
        "decision": decision,
        "reason_code": reason_code,
        "reason": "The licence checks out with the state board.",
        "version": item.ad.version,
        **{f"finding_{f.id}": "overruled" for f in Finding.objects.filter(verdict__ad=item.ad)},
        **extra,
    }
    return client.post(f"{APPEALS}{appeal_id}/decide/", data)


@pytest.mark.usefixtures("local_webhooks")
def test_a_reviewer_decides_an_appeal_into_a_new_verdict_version_announced_by_webhook(
    client,
    api,
    reviewer,
    auditor,
    rejected,
    retailer,
    receiver,  # noqa: F811  (the fixture)
):
    hook = webhook_deliveries.webhook_endpoint_create(
        retailer=retailer, url=receiver.url(), events=["ad.appeal_decided"], actor="retailer:test"
    )
    appeal_id = appeal(api, rejected.id).json()["id"]
    ads_project(ad_ids=[rejected.id])
    assert not WebhookDelivery.objects.exists()  # the retailer's own appeal is no news to it

    client.force_login(auditor)
    queue = client.get(APPEALS).content.decode()
    assert "Fine cigars" in queue and "due in" in queue
    page = client.get(f"{APPEALS}{appeal_id}/change/").content.decode()
    assert MESSAGE in page and 'id="review-form"' not in page
    assert decide(client, appeal_id).status_code == 403

    client.force_login(reviewer)
    assert 'id="review-form"' in client.get(f"{APPEALS}{appeal_id}/change/").content.decode()
    response = decide(client, appeal_id)
    assert response.status_code == 302
    verdict = Verdict.objects.filter(ad=rejected).latest("version")
    assert (verdict.version, verdict.status, verdict.source, verdict.reviewer, verdict.reason_code) == (
        4,
        "approved",
        "staff",
        "rita",
        "LICENSED_ADVERTISER",
    )
    entry = AuditEntry.objects.get(action="ad.appeal_decided")
    assert entry.actor == "staff:rita" and entry.data["appeal_id"] == appeal_id and entry.data["appealed_version"] == 2

    ads_project(ad_ids=[rejected.id])
    document = api.get(f"/api/v1/ads/{rejected.id}").json()
    assert document["status"] == "approved" and document["version"] == 4
    assert document["decision"] == {"by": "rita", "reason": "The licence checks out with the state board."}
    assert document["appeal"]["status"] == "decided"
    assert document["appeal"]["decision"]["status"] == "approved" and document["appeal"]["decision"]["by"] == "rita"

    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.endpoint, delivery.event_type, delivery.version) == (hook, "ad.appeal_decided", 4)
    assert webhook_deliveries.webhook_deliveries_send() == 1
    event = json.loads(receiver.requests[0].body)
    assert event["type"] == "ad.appeal_decided" and event["ad"]["appeal"]["decision"]["status"] == "approved"

    timeline = client.get(f"/admin/ads_write/ad/{rejected.id}/change/").content.decode()
    assert "ad.appealed" in timeline and "ad.appeal_decided" in timeline
    stale = decide(client, appeal_id, reason="A second opinion on the same appeal.")
    assert stale.status_code == 409 and "Decided first by rita" in stale.content.decode()


def test_the_failed_ads_csv_says_which_ads_are_appealed(api, retailer, rejected, reviewer, client):
    appeal(api, rejected.id)
    ads_project(ad_ids=[rejected.id])
    report = FailedAdsReport(retailer_id=retailer.id, day=rejected.submitted_at.date(), tz="UTC")
    csv_text = b"".join(report.chunks()).decode()
    assert "\r\nrejected (appealed)," in csv_text
    row = AdView.objects.get(id=rejected.id)
    assert row.appeal["status"] == "open"


def test_a_staff_decided_ad_may_be_appealed_and_decided_again(api, retailer, client, reviewer):
    ad = held_ad(retailer)
    ad_decide(ad_id=ad.id, status="rejected", reviewer="ravi", reason="No proof of the claim at all.")
    appeal_id = appeal(api, ad.id).json()["id"]
    assert Appeal.objects.get(id=appeal_id).verdict_version == 3
    client.force_login(reviewer)
    decide(client, appeal_id, decision="rejected", reason_code="MISLEADING_CLAIM")
    assert Verdict.objects.filter(ad=ad).latest("version").status == "rejected"
    assert Ad.objects.get(id=ad.id).status == "rejected"
    assert appeal(api, ad.id).status_code == 201  # the new verdict (version 5) may be appealed


def test_an_appeal_of_a_verdict_judged_again_since_is_superseded_not_decided(
    api, client, reviewer, rejected, intake_mode
):
    appeal_id = appeal(api, rejected.id).json()["id"]
    intake_mode("sync")
    changed = api.patch(
        f"/api/v1/ads/{rejected.id}", {"headline": "Cigars, rolled by hand"}, format="json", headers={"If-Match": '"3"'}
    )
    assert changed.status_code == 200, changed.content
    assert Verdict.objects.filter(ad=rejected).latest("version").version == 5  # the change's own verdict
    # Closed with the new verdict, in its transaction, and audited beside it.
    closed = Appeal.objects.get(id=appeal_id)
    assert (closed.status, closed.decided_version, closed.decided_by) == ("superseded", 5, "")
    entry = AuditEntry.objects.get(action="ad.appeal_superseded")
    assert entry.ad_id == rejected.id and entry.data == {"appeal_id": appeal_id, "appealed_version": 2, "version": 5}
    # The retailer reads it superseded, with no decision; the ad's new verdict may be appealed.
    ads_project(ad_ids=[rejected.id])
    shown = api.get(f"/api/v1/ads/{rejected.id}").json()["appeal"]
    assert (shown["id"], shown["status"], shown["decision"]) == (appeal_id, "superseded", None)
    # Staff find it out of the queue of open appeals, and cannot decide it.
    client.force_login(reviewer)
    assert appeal_id not in client.get(f"{APPEALS}?status__exact=open").content.decode()
    page = client.get(f"{APPEALS}{appeal_id}/change/").content.decode()
    assert 'id="appeal-superseded"' in page and 'id="decide-approve"' not in page
    response = decide(client, appeal_id)  # at the ad's current version: only the verdict is stale
    assert response.status_code == 400 and "judged again since this appeal" in response.content.decode()
    assert Ad.objects.get(id=rejected.id).status == "rejected"
    assert not Verdict.objects.filter(ad=rejected, source="staff").exists()
    assert appeal(api, rejected.id).status_code == 201


def test_appeals_left_open_on_an_ad_judged_again_are_closed_by_the_command(api, rejected):
    stale_id = appeal(api, rejected.id).json()["id"]  # of verdict version 2
    # Judged again by a path that left the appeal open (the code before appeals_supersede).
    ad = Ad.objects.get(id=rejected.id)
    ad.version += 1
    ad.save(update_fields=["version"])
    Verdict.objects.create(ad=ad, event_id=uuid.uuid4(), version=ad.version, status="rejected", ruleset_version="x")
    standing_id = appeal(api, rejected.id).json()["id"]  # of the new verdict: it stands
    out = StringIO()

    call_command("appeals_supersede_stale", stdout=out)
    call_command("appeals_supersede_stale", stdout=out)  # nothing left the second time

    assert out.getvalue().splitlines() == ["closed 1 superseded appeal", "closed 0 superseded appeals"]
    stale, standing = Appeal.objects.get(id=stale_id), Appeal.objects.get(id=standing_id)
    assert (stale.status, stale.decided_version) == ("superseded", ad.version)
    assert standing.status == "open"
    entry = AuditEntry.objects.get(action="ad.appeal_superseded")
    assert entry.actor == "system:appeals_supersede_stale" and entry.data["appeal_id"] == stale_id


def test_an_appeal_of_a_staff_decision_is_superseded_by_a_revalidation(api, retailer):
    ad = held_ad(retailer, headline="Marathon socks")
    ad_decide(ad_id=ad.id, status="approved", reviewer="ravi", reason="The claim was checked by phone today.")
    appeal_id = appeal(api, ad.id).json()["id"]
    data = json.loads(DEFAULT_RULESET.read_text())
    data["version"], data["policy"]["prohibited_words"] = "2026-12.9", [*data["policy"]["prohibited_words"], "marathon"]

    result = ads_revalidate(ruleset=compile_ruleset(data), retailer_id=retailer.id)

    assert result.changed_ids == [ad.id]
    closed = Appeal.objects.get(id=appeal_id)
    new_version = Verdict.objects.filter(ad_id=ad.id).latest("version").version
    assert (closed.status, closed.decided_version) == ("superseded", new_version)
    entry = AuditEntry.objects.get(action="ad.appeal_superseded")
    assert entry.actor == REVALIDATOR_ACTOR and entry.data["version"] == new_version
    # The engine judged the ad anew: no staff decision stands, in the row or its document.
    assert Ad.objects.get(id=ad.id).decided_at is None
    ads_project(ad_ids=[ad.id])
    document = api.get(f"/api/v1/ads/{ad.id}").json()
    assert (document["status"], document["decided_at"], document["decision"]) == ("rejected", None, None)
    assert document["appeal"]["status"] == "superseded"


def test_the_failed_ads_csv_says_when_an_appeal_was_rejected(api, retailer, rejected, reviewer, client):
    appeal_id = appeal(api, rejected.id).json()["id"]
    client.force_login(reviewer)
    assert decide(client, appeal_id, decision="rejected", reason_code="PROHIBITED_CONTENT").status_code == 302
    ads_project(ad_ids=[rejected.id])
    report = FailedAdsReport(retailer_id=retailer.id, day=rejected.submitted_at.date(), tz="UTC")
    assert "\r\nrejected (appeal rejected)," in b"".join(report.chunks()).decode()
