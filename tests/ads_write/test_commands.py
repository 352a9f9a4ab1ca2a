"""The retailer's commands on a submitted ad, in process: PATCH /api/v1/ads/{id} (a change,
judged as a new ad; ETag and If-Match), pause, resume, withdraw and their batch forms; the
audit entries, the read document, stats, webhooks and the review queue. The pipeline with
real workers, in every intake mode: tests/pipeline/test_commands.py."""

import re
import uuid
from datetime import date

import pytest

from ads_read.models import AdView, RetailerDailyStats
from ads_read.projections import ads_project
from ads_read.reports import FailedAdsReport
from ads_write.models import Ad, AdChange, ReviewClaim
from ads_write.services.changes import changes_judge
from ads_write.services.decisions import ad_decide
from ads_write.services.reviews import next_for_review, review_claim
from audit.models import AuditEntry
from notifications.models import WebhookDelivery, WebhookEndpoint
from tests.factories import held_ad, submit_ad

pytestmark = pytest.mark.django_db


def problem_type(response) -> str:
    assert response["Content-Type"] == "application/problem+json", response.content
    return response.json()["type"].rsplit("/", 1)[-1]


def change(api, ad_id, fields, version=None, **headers):
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    return api.patch(f"/api/v1/ads/{ad_id}", fields, format="json", headers=headers)


def command(api, ad_id, action, **headers):
    return api.post(f"/api/v1/ads/{ad_id}/{action}", headers=headers)


@pytest.fixture
def approved(retailer):
    return submit_ad(retailer)


def test_a_read_carries_the_version_as_its_etag(api, approved):
    response = api.get(f"/api/v1/ads/{approved.id}")
    assert response["ETag"] == '"2"' and response.json()["version"] == 2
    assert response.json()["paused"] is False and response.json()["change"] is None


def test_a_change_in_sync_mode_is_judged_in_the_request(api, approved, intake_mode):
    intake_mode("sync")
    response = change(api, approved.id, {"headline": "Trail running shoes, winter sale"}, version=2)
    assert response.status_code == 200, response.content
    body = response.json()
    # Accepted as version 3, judged as version 4.
    assert (body["version"], body["status"], body["headline"], body["change"]) == (
        4,
        "approved",
        "Trail running shoes, winter sale",
        None,
    )
    assert response["ETag"] == '"4"'
    requested = AuditEntry.objects.get(action="ad.change_requested")
    assert requested.data["version"] == 3 and requested.data["before"] == {"headline": "Trail running shoes"}
    assert requested.data["after"] == {"headline": "Trail running shoes, winter sale"}
    judged = AuditEntry.objects.get(action="ad.changed")
    assert judged.data["version"] == 4 and judged.data["change_version"] == 3 and judged.data["status"] == "approved"
    assert AdChange.objects.get(ad=approved).status == AdChange.Status.JUDGED


def test_a_staff_decision_no_longer_shows_once_a_change_is_judged_anew(api, retailer, intake_mode):
    ad = held_ad(retailer)
    ad_decide(ad_id=ad.id, status="approved", reviewer="ravi", reason="The claim was checked by phone today.")
    ads_project(ad_ids=[ad.id])
    assert api.get(f"/api/v1/ads/{ad.id}").json()["decision"]["by"] == "ravi"
    intake_mode("sync")
    version = api.get(f"/api/v1/ads/{ad.id}").json()["version"]
    assert change(api, ad.id, {"headline": "Trail running shoes, winter sale"}, version=version).status_code == 200
    ads_project(ad_ids=[ad.id])
    document = api.get(f"/api/v1/ads/{ad.id}").json()
    # The engine judged the new content: ravi decided the old one.
    assert (document["decided_at"], document["decision"]) == (None, None)
    assert AdView.objects.get(id=ad.id).decided_by == ""


def test_a_change_while_judged_keeps_the_approved_version_on_the_read_side(api, approved, intake_mode):
    intake_mode("cqrs")
    response = change(api, approved.id, {"category": "tobacco"}, version=2)
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["version"], body["status"], body["change"]["fields"]) == (3, "approved", ["category"])
    assert "last judged version" in body["note"] and response["ETag"] == '"3"'
    ads_project(ad_ids=[approved.id])
    read = api.get(f"/api/v1/ads/{approved.id}").json()
    # The read side shows the approved content, at the new version, with the change being judged.
    assert (read["status"], read["category"], read["version"]) == ("approved", "sports", 3)
    assert read["change"]["version"] == 3 and read["change"]["status"] == "pending"
    changes_judge(ad_ids=[approved.id])
    ads_project(ad_ids=[approved.id])
    read = api.get(f"/api/v1/ads/{approved.id}").json()
    assert (read["status"], read["category"], read["version"], read["change"]) == ("rejected", "tobacco", 4, None)
    assert "COMPLIANCE.PROHIBITED_CATEGORY" in {f["code"] for f in read["findings"]}


def test_if_match_is_required_and_checked(api, approved, intake_mode):
    intake_mode("cqrs")
    missing = change(api, approved.id, {"headline": "New"})
    assert missing.status_code == 428 and problem_type(missing) == "precondition-required"
    stale = change(api, approved.id, {"headline": "Newer shoes"}, version=1)
    assert stale.status_code == 412 and problem_type(stale) == "precondition-failed"
    assert stale.json()["current_version"] == 2
    garbled = change(api, approved.id, {"headline": "Newer shoes"}, **{"If-Match": "three"})
    assert garbled.status_code == 412
    assert Ad.objects.get(id=approved.id).version == 2 and not AdChange.objects.exists()


def test_a_change_gets_basic_validation_as_a_new_ad(api, approved, intake_mode):
    intake_mode("cqrs")
    bad = change(api, approved.id, {"landing_url": "http://insecure.example", "colour": "red"}, version=2)
    assert bad.status_code == 400 and problem_type(bad) == "validation-error"
    assert {e["field"] for e in bad.json()["errors"]} == {"landing_url", "colour"}
    fixed = change(api, approved.id, {"status": "approved", "version": 9}, version=2)
    assert {(e["field"], e["code"]) for e in fixed.json()["errors"]} == {
        ("status", "BASIC.NOT_EDITABLE"),
        ("version", "BASIC.NOT_EDITABLE"),
    }
    same = change(api, approved.id, {"headline": approved.headline}, version=2)
    assert same.status_code == 400 and same.json()["errors"][0]["code"] == "BASIC.NO_CHANGE"
    # null removes an optional field, never a required one.
    removed = change(api, approved.id, {"price": None}, version=2)
    assert removed.status_code == 202 and removed.json()["change"]["fields"] == ["price"]
    required = change(api, approved.id, {"headline": None}, version=3)
    assert required.status_code == 400 and required.json()["errors"][0]["field"] == "headline"


def test_a_newer_change_supersedes_one_still_judged(api, approved, intake_mode):
    intake_mode("cqrs")
    assert change(api, approved.id, {"headline": "First idea"}, version=2).status_code == 202
    assert change(api, approved.id, {"description": "Second idea, same shoes."}, version=3).status_code == 202
    first, second = AdChange.objects.filter(ad=approved).order_by("id")
    assert (first.status, second.status) == (AdChange.Status.SUPERSEDED, AdChange.Status.PENDING)
    # The newer change builds on the one it replaces: both fields change.
    assert set(second.fields) == {"headline", "description"}
    changes_judge(ad_ids=[approved.id])
    ad = Ad.objects.get(id=approved.id)
    assert (ad.headline, ad.description, ad.version) == ("First idea", "Second idea, same shoes.", 5)


def test_pause_and_resume(api, approved, intake_mode):
    intake_mode("sync")
    paused = command(api, approved.id, "pause")
    assert paused.status_code == 200, paused.content
    assert (paused.json()["paused"], paused.json()["status"], paused.json()["version"]) == (True, "approved", 3)
    again = command(api, approved.id, "pause")
    assert again.status_code == 200 and again.json()["version"] == 3  # nothing to do
    read = api.get(f"/api/v1/ads/{approved.id}").json()
    assert (read["paused"], read["status"]) == (True, "approved")
    assert api.get("/api/v1/ads", {"paused": "true"}).json()["results"][0]["id"] == str(approved.id)
    stale = command(api, approved.id, "resume", **{"If-Match": '"2"'})
    assert stale.status_code == 412
    resumed = command(api, approved.id, "resume", **{"If-Match": '"3"'})
    assert resumed.json()["paused"] is False and resumed.json()["version"] == 4
    assert list(AuditEntry.objects.filter(ad_id=approved.id).order_by("sequence").values_list("action", flat=True)) == [
        "ad.submitted",
        "ad.validated",
        "ad.paused",
        "ad.resumed",
    ]


def test_withdrawn_is_final_and_not_failed_now(api, retailer, intake_mode):
    intake_mode("sync")
    rejected = submit_ad(retailer, category="tobacco", headline="Fine cigars")
    response = command(api, rejected.id, "withdraw")
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    for refused in (change(api, rejected.id, {"headline": "x"}, version=3), command(api, rejected.id, "pause")):
        assert refused.status_code == 409 and problem_type(refused) == "ad-not-changeable"
    appeal = api.post(f"/api/v1/ads/{rejected.id}/appeals", {"message": "Please look again."}, format="json")
    assert appeal.status_code == 409 and problem_type(appeal) == "appeal-not-allowed"
    read = api.get(f"/api/v1/ads/{rejected.id}").json()
    assert read["status"] == "withdrawn" and read["withdrawn_at"]
    assert api.get("/api/v1/ads/failed").json()["results"] == []
    stats = api.get("/api/v1/stats").json()["results"][0]
    assert (stats["withdrawn"], stats["rejected"]) == (1, 0)
    assert set(RetailerDailyStats.objects.filter(count__gt=0).values_list("status", flat=True)) == {"withdrawn"}
    # Withdrawing does not undo the day's rejection: its report still lists it, saying so.
    report = FailedAdsReport(retailer_id=retailer.id, day=date.fromisoformat(read["submitted_at"][:10]), tz="UTC")
    assert f"rejected (withdrawn),{rejected.id},".encode() in b"".join(report.chunks())
    assert (report.rejected, report.withdrawn) == (1, 1)
    assert AdView.objects.get(id=rejected.id).withdrawn_from == "rejected"


def test_a_held_ad_withdrawn_leaves_the_review_queue(api, retailer, reviewer, intake_mode):
    intake_mode("sync")
    held = held_ad(retailer)
    review_claim(ad_id=held.id, reviewer="rita")
    assert next_for_review(reviewer="sam") is None or next_for_review(reviewer="sam").id != held.id
    assert command(api, held.id, "withdraw").status_code == 200
    assert next_for_review(reviewer="rita") is None
    assert not ReviewClaim.objects.filter(ad_id=held.id).exists()
    assert AuditEntry.objects.get(action="ad.withdrawn").data["previous_status"] == "needs_review"


def test_a_pending_ad_can_only_be_withdrawn(api, retailer, intake_mode):
    intake_mode("cqrs")
    accepted = api.post("/api/v1/ads", {"headline": "Trail shoes"} | _payload(), format="json").json()
    refused = command(api, accepted["id"], "pause")
    assert refused.status_code == 409 and "first judgement" in refused.json()["detail"]
    assert command(api, accepted["id"], "withdraw").status_code == 202
    assert Ad.objects.get(id=accepted["id"]).status == "withdrawn"


def test_batch_pause_and_withdraw_answer_per_id(api, retailer, other_retailer, intake_mode):
    intake_mode("sync")
    mine = [submit_ad(retailer, external_ref=f"b-{n}") for n in range(2)]
    theirs = submit_ad(other_retailer)
    ids = [str(mine[0].id), "not-an-id", str(theirs.id), str(mine[1].id)]
    response = api.post("/api/v1/ads/batch/pause", {"ids": ids}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["accepted_count"], body["failed_count"]) == (2, 2)
    assert [r["id"] for r in body["results"]] == ids
    assert [r.get("paused") for r in body["results"]] == [True, None, None, True]
    assert body["results"][2]["problem"]["status"] == 404
    assert not Ad.objects.get(id=theirs.id).paused
    withdrawn = api.post("/api/v1/ads/batch/withdraw", {"ids": [str(mine[0].id)]}, format="json").json()
    assert withdrawn["results"][0]["status"] == "withdrawn"
    too_many = api.post("/api/v1/ads/batch/withdraw", {"ids": [str(uuid.uuid4())] * 1001}, format="json")
    assert too_many.status_code == 422 and problem_type(too_many) == "batch-too-large"


def test_commands_replay_with_an_idempotency_key(api, approved, intake_mode):
    intake_mode("cqrs")
    first = change(api, approved.id, {"headline": "Once only"}, version=2, **{"Idempotency-Key": "chg-1"})
    again = change(api, approved.id, {"headline": "Once only"}, version=2, **{"Idempotency-Key": "chg-1"})
    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true" and again["ETag"] == first["ETag"] == '"3"'
    assert AdChange.objects.count() == 1


def test_webhooks_announce_the_commands(api, retailer, approved, intake_mode):
    intake_mode("sync")
    WebhookEndpoint.objects.create(
        retailer=retailer,
        url="https://hooks.example/ads",
        events=["ad.changed", "ad.paused", "ad.withdrawn"],
        secret="s",
    )
    change(api, approved.id, {"headline": "Trail running shoes, new"}, version=2)
    command(api, approved.id, "pause")
    command(api, approved.id, "withdraw")
    assert list(WebhookDelivery.objects.order_by("version").values_list("event_type", "version")) == [
        ("ad.changed", 4),
        ("ad.paused", 5),
        ("ad.withdrawn", 6),
    ]
    assert AdView.objects.get(id=approved.id).status == "withdrawn"


def test_the_key_needs_the_submit_scope(retailer, approved):
    from rest_framework.test import APIClient

    from adplatform.kernel.services import api_key_create

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(retailer=retailer, scopes=['read'])}")
    response = client.post(f"/api/v1/ads/{approved.id}/pause")
    assert response.status_code == 403 and problem_type(response) == "insufficient-scope"


def _payload():
    from tests.factories import ad_payload

    return ad_payload()


def test_staff_see_the_changes_side_by_side_in_the_admin(client, auditor, api, approved, intake_mode):
    intake_mode("sync")
    change(api, approved.id, {"headline": "Trail running shoes, new"}, version=2)
    change(api, approved.id, {"category": "tobacco", "price": None}, version=4)
    client.force_login(auditor)
    page = client.get(f"/admin/ads_write/ad/{approved.id}/change/").content.decode()
    assert "changes, side by side" in page.lower()
    table = page.split('class="ad-changes"', 1)[1].split("</table>", 1)[0]
    assert "v3 · judged → approved (v4)" in table and "v5 · judged → rejected (v6)" in table
    assert "<del>Trail running shoes</del><br><ins>Trail running shoes, new</ins>" in table
    assert "<del>sports</del><br><ins>tobacco</ins>" in table
    # Times as everywhere in the admin: ISO 8601 with the offset.
    assert len(re.findall(r"<small>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000 · ", table)) == 2


@pytest.mark.django_db(transaction=True)
def test_ads_withdrawn_before_the_column_get_their_status_from_the_audit_log(api, retailer, intake_mode):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    intake_mode("sync")
    rejected = submit_ad(retailer, category="tobacco", headline="Fine cigars")
    assert command(api, rejected.id, "withdraw").status_code == 200
    before = [("ads_read", "0008_adview_document"), ("ads_write", "0016_ad_command_at")]
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(before)  # the columns go, and with them what the command wrote
        executor = MigrationExecutor(connection)
        executor.migrate([("ads_read", "0009_adview_withdrawn_from"), ("ads_write", "0017_ad_withdrawn_from")])
        assert Ad.objects.get(id=rejected.id).withdrawn_from == "rejected"
        assert AdView.objects.get(id=rejected.id).withdrawn_from == "rejected"
    finally:
        # Back to the latest schema: the tests after this one in its process run on it (left at
        # 0017, they met the duplicate probe's plan without 0018 and appeals without 0019).
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
