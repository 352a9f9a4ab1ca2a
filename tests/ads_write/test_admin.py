"""The compliance admin over ads (through Django's test client; tests/browser drives it in
a real browser): filters, search, the per-ad timeline, read-only pages, the review queue
and its decisions, and index-backed queries."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ads_write.models import Ad, OutboxMessage, Verdict
from ads_write.services.decisions import ad_decide
from audit.models import AuditEntry
from tests.conftest import explained
from tests.factories import held_ad, submit_ad

ADS = "/admin/ads_write/ad/"
HELD = "/admin/ads_write/heldad/"


@pytest.fixture
def ads(retailer, other_retailer):
    """A sports ad, a rejected tobacco ad of another retailer, and a held ad."""
    return {
        "sports": submit_ad(retailer, external_ref="SHOE-1"),
        "tobacco": submit_ad(
            other_retailer,
            category="tobacco",
            country="DE",
            headline="Fine cigars",
            external_ref="CIG-9",
            landing_url="https://www.cigar-house.example/cuba",
            display_url=None,
        ),
        "held": held_ad(
            retailer, country="FR", category="home", headline="Lamps guaranteed to glow", external_ref="LAMP-2"
        ),
    }


@pytest.fixture
def staff(client, reviewer):
    client.force_login(reviewer)  # Reviewers view every ad and decide held ones
    return client


def listed(client, url, query="") -> set:
    response = client.get(f"{url}?{query}")
    assert response.status_code == 200, response.content[:500]
    return {ad.id for ad in response.context["cl"].result_list}


@pytest.mark.django_db
def test_the_ads_list_filters_on_each_criterion(staff, ads, other_retailer):
    today = timezone.now().date()
    tobacco, held = {ads["tobacco"].id}, {ads["held"].id}
    assert listed(staff, ADS) == {ad.id for ad in ads.values()}
    assert listed(staff, ADS, "status__exact=rejected") == tobacco
    assert listed(staff, ADS, "status__exact=needs_review") == held
    assert listed(staff, ADS, f"retailer__id__exact={other_retailer.id}") == tobacco
    assert listed(staff, ADS, "category=tobacco") == tobacco
    assert listed(staff, ADS, "country=fr") == held
    assert listed(staff, ADS, "finding_code=COMPLIANCE.PROHIBITED_CATEGORY") == tobacco
    assert listed(staff, ADS, "finding_code=POLICY.SUPERLATIVE_CLAIM") == held
    assert listed(staff, ADS, f"submitted_at__from={today}&submitted_at__to={today}") == {a.id for a in ads.values()}
    assert listed(staff, ADS, f"submitted_at__to={today - timedelta(days=1)}") == set()
    assert listed(staff, ADS, "status__exact=rejected&country=FR") == set()
    assert listed(staff, ADS, f"reviewed_at__from={today}") == {a.id for a in ads.values()}
    assert listed(staff, ADS, f"reviewed_at__to={today - timedelta(days=1)}") == set()
    assert listed(staff, ADS, f"decided_at__from={today}") == set()  # nobody decided anything yet
    ad_decide(ad_id=ads["held"].id, status="approved", reviewer="carol", reason="Proof supplied.")
    assert listed(staff, ADS, f"decided_at__from={today}&decided_at__to={today}") == held


@pytest.mark.django_db
def test_bad_filter_values_do_not_break_the_list(staff, ads):
    response = staff.get(f"{ADS}?submitted_at__from=yesterday")
    assert response.status_code == 302 and "e=1" in response["Location"]


@pytest.mark.django_db
def test_the_ads_list_searches_id_external_ref_headline_and_landing_domain(staff, ads):
    assert listed(staff, ADS, f"q={ads['held'].id}") == {ads["held"].id}
    assert listed(staff, ADS, "q=CIG-9") == {ads["tobacco"].id}
    assert listed(staff, ADS, "q=fine+CIGARS") == {ads["tobacco"].id}
    assert listed(staff, ADS, "q=cigar-house.example") == {ads["tobacco"].id}
    assert listed(staff, ADS, "q=nothing-like-this") == set()


@pytest.mark.django_db
def test_an_ads_page_shows_its_timeline_verdicts_and_findings_read_only(staff, ads):
    ad = ads["tobacco"]
    response = staff.get(f"{ADS}{ad.id}/change/")
    assert response.status_code == 200
    assert [entry.action for entry, _ in response.context["timeline"]] == ["ad.submitted", "ad.validated"]
    assert [v.status for v in response.context["verdicts"]] == ["rejected"]
    page = response.content.decode()
    assert "COMPLIANCE.PROHIBITED_CATEGORY" in page and "Fine cigars" in page and ad.retailer.name in page
    assert 'name="_save"' not in page and "<textarea" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("path", [ADS + "{id}/change/", ADS + "add/", ADS + "{id}/delete/", HELD + "{id}/change/"])
def test_auditors_cannot_change_add_or_delete_ads(staff, ads, path):
    ad = ads["held"]
    response = staff.post(path.format(id=ad.id), {"headline": "Changed", "status": "approved"})
    assert response.status_code == 403
    ad.refresh_from_db()
    assert (ad.headline, ad.status) == ("Lamps guaranteed to glow", "needs_review")


@pytest.mark.django_db
def test_staff_without_rights_see_nothing(client, ads):
    client.force_login(get_user_model().objects.create_user("bob", password="bob-password", is_staff=True))
    assert client.get(ADS).status_code == 403
    assert client.get(HELD).status_code == 403


@pytest.mark.django_db
def test_the_review_queue_lists_only_held_ads_with_their_findings(staff, ads):
    response = staff.get(HELD)
    assert {ad.id for ad in response.context["cl"].result_list} == {ads["held"].id}
    assert "POLICY.SUPERLATIVE_CLAIM" in response.content.decode()


def decide(client, ad, action, **extra):
    data = {"action": action, "_selected_action": [str(ad.id)], **extra}
    return client.post(HELD, data)


@pytest.mark.django_db
def test_approving_a_held_ad_asks_for_a_reason_then_decides_through_the_service(staff, retailer):
    client, ad = staff, held_ad(retailer)
    form = decide(client, ad, "approve_held", index="0")
    assert form.status_code == 200 and "decision-form" in form.content.decode()
    refused = decide(client, ad, "approve_held", apply="1", reason="   ", reason_code="CLAIM_SUBSTANTIATED")
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    short = decide(client, ad, "approve_held", apply="1", reason="x", reason_code="CLAIM_SUBSTANTIATED")
    assert "at least 20 characters" in short.content.decode()
    uncoded = decide(client, ad, "approve_held", apply="1", reason="Claim checked with the retailer's proof.")
    assert uncoded.status_code == 200 and "This field is required." in uncoded.content.decode()
    ad.refresh_from_db()
    assert ad.status == "needs_review"

    done = decide(
        client,
        ad,
        "approve_held",
        apply="1",
        reason="Claim checked with the retailer's proof.",
        reason_code="CLAIM_SUBSTANTIATED",
    )
    assert done.status_code == 302
    messages = [str(m) for m in client.get(done["Location"]).context["messages"]]
    assert messages == ["Approved 1 ad(s): “Trail running shoes”. Reason recorded."]
    ad.refresh_from_db()
    assert (ad.status, ad.version) == ("approved", 3) and ad.decided_at
    verdict = Verdict.objects.get(ad=ad, version=3)
    assert (verdict.source, verdict.reviewer, verdict.reason) == (
        "staff",
        "rita",
        "Claim checked with the retailer's proof.",
    )
    entry = AuditEntry.objects.get(ad_id=ad.id, action="ad.decided")
    assert entry.actor == "staff:rita" and entry.data["reason"] == verdict.reason and entry.data["status"] == "approved"
    assert verdict.reason_code == "CLAIM_SUBSTANTIATED" and set(verdict.dispositions.values()) == {"overruled"}
    assert OutboxMessage.objects.filter(payload=[str(ad.id)]).exists()  # the projection is on its way


@pytest.mark.django_db
def test_rejecting_several_held_ads_at_once(staff, retailer):
    first, second = held_ad(retailer, external_ref="A"), held_ad(retailer, external_ref="B")
    data = {
        "action": "reject_held",
        "_selected_action": [str(first.id), str(second.id)],
        "apply": "1",
        "reason": "Unproven claims about the product.",
        "reason_code": "MISLEADING_CLAIM",
    }
    response = staff.post(HELD, data, follow=True)
    assert "Rejected 2 ad(s)" in response.content.decode()
    assert set(Ad.objects.filter(id__in=[first.id, second.id]).values_list("status", flat=True)) == {"rejected"}


@pytest.mark.django_db
def test_an_ad_decided_meanwhile_is_reported_not_decided_twice(staff, retailer):
    ad = held_ad(retailer)
    ad_decide(ad_id=ad.id, status="rejected", reviewer="carol", reason="First come.")
    response = decide(
        staff, ad, "approve_held", apply="1", reason="Second, and too late for it.", reason_code="CLAIM_SUBSTANTIATED"
    )
    assert response.status_code == 302
    messages = [str(m) for m in staff.get(response["Location"]).context["messages"]]
    assert messages == ["None of the selected ads is still held for review."]
    assert Verdict.objects.filter(ad=ad, source="staff").count() == 1


@pytest.mark.django_db
def test_of_several_selected_ads_those_decided_meanwhile_are_reported(staff, retailer):
    still_held, decided = held_ad(retailer, headline="Still held"), held_ad(retailer, external_ref="B")
    ad_decide(ad_id=decided.id, status="approved", reviewer="carol", reason="First come.")
    data = {
        "action": "reject_held",
        "_selected_action": [str(still_held.id), str(decided.id)],
        "apply": "1",
        "reason": "Unproven claims about the product.",
        "reason_code": "MISLEADING_CLAIM",
    }
    messages = [str(m) for m in staff.post(HELD, data, follow=True).context["messages"]]
    assert messages == [
        "Rejected 1 ad(s): “Still held”. Reason recorded.",
        "1 selected ad(s) are no longer held for review (decided meanwhile?).",
    ]
    decided.refresh_from_db()
    assert decided.status == "approved"


@pytest.mark.django_db
def test_staff_who_may_only_view_cannot_decide(client, retailer):
    ad = held_ad(retailer)
    viewer = get_user_model().objects.create_user("vera", password="vera-password", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_heldad"))
    client.force_login(viewer)
    page = client.get(HELD)
    assert page.status_code == 200 and "approve_held" not in page.content.decode()
    forged = decide(client, ad, "approve_held", apply="1", reason="Looks fine to me, honestly.")
    assert forged.status_code == 403
    ad.refresh_from_db()
    assert ad.status == "needs_review"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, index",
    [
        (ADS + "?status__exact=rejected", "ad_status_submitted"),
        (ADS + "?category=sports", "ad_category_submitted"),
        (ADS + "?country=US", "ad_country_submitted"),
        (ADS + "?retailer__id__exact={retailer}", "ad_retailer_submitted"),
        (ADS + "?finding_code=COMPLIANCE.PROHIBITED_CATEGORY", "ads_write_finding_code"),
        (ADS + "?submitted_at__from=2026-01-01&submitted_at__to=2026-12-31", "ad_submitted"),
        (ADS + "?reviewed_at__from=2026-01-01&reviewed_at__to=2026-01-31", "ad_reviewed"),
        (ADS + "?decided_at__from=2026-01-01&decided_at__to=2026-01-31", "ad_decided"),
        (ADS + "?q={ad}", "ads_write_ad_pkey"),
        (ADS + "?q=SHOE-1", "ad_external_ref_trgm"),
        (ADS + "?q=hoe-", "ad_external_ref_trgm"),
        (ADS + "?q={ad_part}", "ad_id_trgm"),
        (ADS + "?q=nimb", "ad_retailer_submitted"),  # the retailers whose name matches
        (ADS + "?q=policy.superlative_claim", "ads_write_finding_code"),
        (ADS + "?q=running", "ad_headline_trgm"),
        (ADS + "?q=nimbus-store", "ad_landing_url_trgm"),
        (HELD, "ad_held_reviewed"),
        (ADS + "{ad}/change/", "audit_ad_sequence"),
    ],
)
def test_admin_queries_on_ads_are_index_backed(staff, ads, retailer, url, index):
    """Each filter and search has an index that serves it, shown with sequential scans
    priced out so that the planner uses an index on these few rows."""
    ad = ads["sports"].id
    plans = explained(staff, url.format(retailer=retailer.id, ad=ad, ad_part=str(ad)[9:18]), "enable_seqscan")
    assert not [plan for plan in plans if "Seq Scan" in plan]
    assert any(f" {index}" in plan for plan in plans), "\n\n".join(plans)


@pytest.mark.django_db
def test_the_unfiltered_list_is_read_in_order_off_an_index(staff, ads):
    plans = explained(staff, ADS, "enable_seqscan", "enable_sort")
    page = plans[-1]  # the count, then the page
    assert "Index Scan Backward using ad_submitted" in page and "Seq Scan" not in page, page


@pytest.mark.django_db
@pytest.mark.parametrize("url", [ADS, HELD, "/admin/ads_write/verdict/", "/admin/ads_write/finding/"])
def test_a_list_page_costs_the_same_queries_however_many_rows_it_shows(staff, retailer, url):
    """Each row's relations come with the page (list_select_related, prefetches), not one
    query per row."""

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff.get(url).status_code == 200
        return len(captured)

    held_ad(retailer, external_ref="H-0")
    one = queries()
    for n in range(1, 6):
        held_ad(retailer, external_ref=f"H-{n}")
        submit_ad(retailer, external_ref=f"S-{n}", category="tobacco")
    assert queries() == one
