"""The review queue in the admin: counts on the index, age and SLA with the overdue first,
claims ("being reviewed by"), search (retailer name, partial external ref and id, finding
code, any case; a message on no result), filters, and the streamed CSV exports."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from ads_write.models import Ad, ReviewClaim
from ads_write.services.reviews import ClaimError, review_claim
from audit.models import AuditEntry
from tests.factories import held_ad, submit_ad

pytestmark = pytest.mark.django_db

ADS = "/admin/ads_write/ad/"
HELD = "/admin/ads_write/heldad/"


def listed(client, url, query="") -> list:
    response = client.get(f"{url}?{query}")
    assert response.status_code == 200, response.content[:500]
    return [ad.id for ad in response.context["cl"].result_list]


def held_since(ad, hours: float) -> Ad:
    Ad.objects.filter(id=ad.id).update(reviewed_at=timezone.now() - timedelta(hours=hours))
    return Ad.objects.get(id=ad.id)


@pytest.fixture
def queue(retailer, other_retailer):
    return {
        "fresh": held_since(held_ad(retailer, external_ref="LAMP-2", headline="Lamps guaranteed to glow"), 1),
        "overdue": held_since(held_ad(other_retailer, external_ref="CHAIR-77", headline="Best chairs ever"), 30),
        "due_soon": held_since(held_ad(retailer, external_ref="SOFA-1", code="FRAUD.VELOCITY"), 22),
    }


def test_the_queue_shows_the_overdue_first_with_age_sla_and_claims(client, reviewer, second_reviewer, queue):
    review_claim(ad_id=queue["due_soon"].id, reviewer=second_reviewer.username)
    client.force_login(reviewer)
    assert listed(client, HELD) == [queue["overdue"].id, queue["due_soon"].id, queue["fresh"].id]
    page = client.get(HELD).content.decode()
    assert "overdue by 6 h" in page and ("due in 1 h 59 min" in page or "due in 2 h 00 min" in page)
    assert "ravi" in page  # being reviewed by
    assert listed(client, HELD, "sla=overdue") == [queue["overdue"].id]
    assert listed(client, HELD, "sla=due_soon") == [queue["due_soon"].id]
    assert listed(client, HELD, "claim=others") == [queue["due_soon"].id]
    assert listed(client, HELD, "claim=free") == [queue["overdue"].id, queue["fresh"].id]


def test_the_index_counts_the_queue(client, reviewer, queue, settings):
    client.force_login(reviewer)
    page = client.get("/admin/").content.decode()
    counts = dict(re.findall(r'<tr class="count-([a-z-]+)">.*?<td class="count">([^<]+)</td>', page, re.S))
    assert counts == {"held": "3", "overdue": "1", "claimed": "0", "appeals": "0", "appeals-overdue": "0"}


def test_claims_lapse_and_are_audited(queue, reviewer, second_reviewer, settings):
    ad = queue["fresh"]
    review_claim(ad_id=ad.id, reviewer="rita")
    with pytest.raises(ClaimError, match="Being reviewed by rita until "):
        review_claim(ad_id=ad.id, reviewer="ravi")
    ReviewClaim.objects.filter(ad=ad).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert review_claim(ad_id=ad.id, reviewer="ravi").reviewer == "ravi"
    assert list(AuditEntry.objects.filter(ad_id=ad.id, action="review.claimed").values_list("actor", flat=True)) == [
        "staff:rita",
        "staff:ravi",
    ]


def test_claim_and_release_from_the_queue_and_not_for_auditors(client, reviewer, auditor, queue):
    ad = queue["fresh"]
    client.force_login(auditor)
    forged = client.post(HELD, {"action": "claim_held", "index": "0", "_selected_action": [str(ad.id)]})
    assert forged.status_code == 403 and not ReviewClaim.objects.exists()
    client.force_login(reviewer)
    client.post(HELD, {"action": "claim_held", "index": "0", "_selected_action": [str(ad.id)]})
    assert ReviewClaim.objects.get(ad=ad).reviewer == "rita"
    client.post(HELD, {"action": "release_held", "index": "0", "_selected_action": [str(ad.id)]})
    assert not ReviewClaim.objects.exists()


def test_search_by_retailer_partial_ref_partial_id_and_code_in_any_case(client, reviewer, queue):
    client.force_login(reviewer)
    overdue, fresh = queue["overdue"].id, queue["fresh"].id
    assert listed(client, ADS, "q=orbi") == [overdue]  # the other retailer's name, in part
    assert listed(client, ADS, "q=chair-7") == [overdue]
    assert listed(client, ADS, "q=lamp-") == [fresh]
    assert listed(client, ADS, f"q={str(fresh)[9:23].upper()}") == [fresh]
    assert set(listed(client, ADS, "q=policy.superlative_claim")) == {overdue, fresh}
    assert listed(client, HELD, "q=Fraud.Velocity") == [queue["due_soon"].id]


def test_a_search_without_results_says_so(client, reviewer, queue):
    client.force_login(reviewer)
    response = client.get(f"{HELD}?q=no-such-thing")
    assert [str(m) for m in get_messages(response.wsgi_request)][0].startswith(
        "No ads held for review match “no-such-thing”."
    )


def exported(client, url) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200 and response.streaming, response
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_exports_of_the_ads_and_of_the_queue_follow_the_filters(client, auditor, queue, retailer):
    submit_ad(retailer, headline="=HYPERLINK(1)", external_ref="FORMULA")
    client.force_login(auditor)
    page = client.get(HELD).content.decode()
    assert "export-csv" in page
    rows = exported(client, f"{HELD}export/?sla=overdue")
    assert rows[0][-3:] == ["held_hours", "overdue", "claimed_by"]
    assert [(r[0], r[2], r[-2]) for r in rows[1:]] == [(str(queue["overdue"].id), "Orbit", "yes")]
    every = exported(client, f"{ADS}export/")
    assert len(every) == 5 and "'=HYPERLINK(1)" in {r[4] for r in every}
    assert "POLICY.SUPERLATIVE_CLAIM" in {r[-1] for r in every}


def test_staff_without_the_export_permission_cannot_export(client, operator, queue):
    client.force_login(operator)
    assert client.get(f"{ADS}export/").status_code == 403


def test_the_indexs_being_reviewed_count_links_to_the_ads_it_counts(client, reviewer, second_reviewer, queue):
    review_claim(ad_id=queue["fresh"].id, reviewer=reviewer.username)
    review_claim(ad_id=queue["due_soon"].id, reviewer=second_reviewer.username)
    client.force_login(reviewer)
    page = client.get("/admin/").content.decode()
    link, count = re.search(
        r'<tr class="count-claimed">.*?href="([^"]+)".*?<td class="count">([^<]+)</td>', page, re.S
    ).groups()
    path, query = link.split("?")
    assert count == "2" and set(listed(client, path, query)) == {queue["fresh"].id, queue["due_soon"].id}


def test_the_finding_code_filters_take_any_case(client, reviewer, queue):
    client.force_login(reviewer)
    assert listed(client, HELD, "finding_code=fraud.velocity") == [queue["due_soon"].id]
    response = client.get("/admin/ads_write/finding/?code=Fraud.Velocity")
    assert [f.code for f in response.context["cl"].result_list] == ["FRAUD.VELOCITY"]


def test_only_a_held_ad_can_be_claimed(client, reviewer, retailer):
    approved = submit_ad(retailer)
    with pytest.raises(ClaimError, match="not held for review: it is approved"):
        review_claim(ad_id=approved.id, reviewer="rita")
    client.force_login(reviewer)
    client.post(f"{HELD}{approved.id}/claim/")  # a forged POST: the page offers no claim
    assert not ReviewClaim.objects.exists()
