"""The reviewer's page of a held ad (Django's test client; tests/browser drives it in a real
browser): findings first with their rule text, evidence highlighted in the ad's own escaped
text, confusable letters with their script and the xn-- form, duplicates linked; the
decision form (reason code, minimum length, per-finding disposition), "decide and open
next", stale decisions, four eyes, decided ads still open, History as the audit timeline."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from ads_write.models import Ad, ApprovalProposal, ContentFingerprint, Finding, ReviewClaim, Verdict
from ads_write.services.decisions import ad_decide
from ads_write.validation import engine
from audit.models import AuditEntry
from tests.factories import held_ad, submit_ad

pytestmark = pytest.mark.django_db

HELD = "/admin/ads_write/heldad/"


def page_of(ad) -> str:
    return f"{HELD}{ad.id}/change/"


def decide_url(ad) -> str:
    return f"{HELD}{ad.id}/decide/"


def form_data(
    ad,
    decision="approved",
    reason_code="CLAIM_SUBSTANTIATED",
    reason="The glow claim is backed by a lab test.",
    disposition="overruled",
    **extra,
):
    data = {
        "decision": decision,
        "reason_code": reason_code,
        "reason": reason,
        "version": ad.version,
        "then_next": "on",
    }
    for finding in Finding.objects.filter(verdict__ad=ad):
        data[f"finding_{finding.id}"] = disposition
    data.update(extra)
    return data


@pytest.fixture
def as_reviewer(client, reviewer):
    client.force_login(reviewer)
    return client


def test_findings_come_first_with_rule_text_and_escaped_highlighted_evidence(as_reviewer, retailer):
    ad = held_ad(
        retailer,
        headline="The <b>best</b> lamps, guaranteed",
        evidence={"words": ["best", "guaranteed"]},
    )
    html = as_reviewer.get(page_of(ad)).content.decode()
    assert html.index('id="findings"') < html.index('id="ad-text"') < html.index('id="timeline"')
    assert "Rule:</strong> " in html and "superlative" in html.lower()
    assert (
        '&lt;b&gt;<mark class="evidence">best</mark>&lt;/b&gt; lamps, <mark class="evidence">guaranteed</mark>' in html
    )
    assert "<b>best</b>" not in html  # the ad's markup is never markup here


def test_a_homograph_host_shows_its_script_and_xn_form(as_reviewer, retailer):
    ad = held_ad(
        retailer,
        code="FRAUD.PUNYCODE_DOMAIN",
        landing_url="https://www.n\u0456mbus-store.example/shoes",
        display_url=None,
        evidence={"host": "www.n\u0456mbus-store.example", "scripts": ["CYRILLIC", "LATIN"]},
    )
    html = as_reviewer.get(page_of(ad)).content.decode()
    assert "www.xn--nmbus-store-zvj.example" in html
    assert "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I" in html and "U+0456" in html
    assert "mixes Cyrillic and Latin letters" in html
    assert re.search(r'id="host-landing".*?<code>/shoes</code>', html, re.S)


def test_a_duplicate_finding_links_the_ad_it_duplicates(as_reviewer, retailer, other_retailer):
    original = held_ad(other_retailer, headline="Copied lamp text")
    ad = held_ad(retailer, code="FRAUD.DUPLICATE_CONTENT", headline="Copied lamp text", evidence={"window_days": 30})
    for each in (original, ad):
        ContentFingerprint.objects.create(
            ad_id=each.id, retailer_id=each.retailer_id, content_hash="f" * 64, submitted_at=each.submitted_at
        )
    html = as_reviewer.get(page_of(ad)).content.decode()
    assert f'href="/admin/ads_write/ad/{original.id}/change/" class="duplicate-link"' in html


def test_the_form_wants_a_reason_code_a_long_enough_reason_and_each_finding_disposed(as_reviewer, retailer):
    ad = held_ad(retailer)
    short = as_reviewer.post(decide_url(ad), form_data(ad, reason="x"))
    assert short.status_code == 400 and "at least 20 characters" in short.content.decode()
    wrong_code = as_reviewer.post(decide_url(ad), form_data(ad, reason_code="MISLEADING_CLAIM"))
    assert wrong_code.status_code == 400 and "Choose a reason code for an approval" in wrong_code.content.decode()
    undisposed = form_data(ad)
    undisposed = {k: v for k, v in undisposed.items() if not k.startswith("finding_")}
    assert as_reviewer.post(decide_url(ad), undisposed).status_code == 400
    assert Ad.objects.get(id=ad.id).status == "needs_review"


def test_a_decision_records_code_and_dispositions_and_opens_the_next_held_ad(as_reviewer, retailer):
    first = held_ad(retailer, headline="First held")
    second = held_ad(retailer, headline="Second held")
    Ad.objects.filter(id=first.id).update(reviewed_at=timezone.now() - timedelta(hours=2))
    response = as_reviewer.post(decide_url(first), form_data(first))
    assert response.status_code == 302 and response["Location"] == page_of(second)
    verdict = Verdict.objects.get(ad=first, source="staff")
    finding = Finding.objects.get(verdict__ad=first)
    assert (verdict.status, verdict.reviewer, verdict.reason_code) == ("approved", "rita", "CLAIM_SUBSTANTIATED")
    assert verdict.dispositions == {str(finding.id): "overruled"}
    entry = AuditEntry.objects.get(action="ad.decided", ad_id=first.id)
    assert entry.data["reason_code"] == "CLAIM_SUBSTANTIATED" and entry.data["dispositions"] == verdict.dispositions
    assert ReviewClaim.objects.get(ad=second).reviewer == "rita"  # the next one is mine now


def test_a_stale_decision_says_who_decided_what_and_keeps_the_typed_reason(as_reviewer, retailer):
    ad = held_ad(retailer)
    ad_decide(ad_id=ad.id, status="rejected", reviewer="ravi", reason="Nobody can guarantee a glow.")
    typed = "My own careful reason for approving it."
    response = as_reviewer.post(decide_url(ad), form_data(ad, reason=typed))
    html = response.content.decode()
    assert response.status_code == 409
    assert "Decided first by ravi: rejected at " in html and "Nobody can guarantee a glow." in html
    assert f"{typed}</textarea>" in html
    assert Verdict.objects.filter(ad=ad, source="staff").count() == 1


def test_four_eyes_needs_a_second_reviewer_to_overrule_a_reject_finding(
    client, reviewer, second_reviewer, retailer, settings
):
    settings.REVIEW_FOUR_EYES = True
    blocked = engine.RuleFinding("FRAUD.BLOCKED_DOMAIN", "fraud", "reject", "Blocked domain.", "landing_url", {})
    ad = held_ad(retailer, extra_findings=(blocked,))
    client.force_login(reviewer)
    upheld = client.post(decide_url(ad), form_data(ad, disposition="upheld"))
    assert "An approval cannot uphold FRAUD.BLOCKED_DOMAIN" in upheld.content.decode()
    client.post(decide_url(ad), form_data(ad))
    assert Ad.objects.get(id=ad.id).status == "needs_review" and ApprovalProposal.objects.get(ad=ad).reviewer == "rita"
    again = client.post(decide_url(ad), form_data(ad))
    assert "a second, different reviewer must confirm" in again.content.decode()
    client.force_login(second_reviewer)
    assert "rita proposed to approve" in client.get(page_of(ad)).content.decode()
    client.post(decide_url(ad), form_data(ad, reason="Checked the domain with the registrar."))
    verdict = Verdict.objects.get(ad=ad, source="staff")
    assert (verdict.status, verdict.reviewer, verdict.confirmed_by) == ("approved", "rita", "ravi")
    assert AuditEntry.objects.get(action="ad.decided").actor == "staff:ravi"
    assert not ApprovalProposal.objects.exists()


def test_without_four_eyes_one_reviewer_overrules_a_reject_finding(as_reviewer, retailer):
    blocked = engine.RuleFinding("FRAUD.BLOCKED_DOMAIN", "fraud", "reject", "Blocked domain.", "landing_url", {})
    ad = held_ad(retailer, extra_findings=(blocked,))
    as_reviewer.post(decide_url(ad), form_data(ad))
    assert Ad.objects.get(id=ad.id).status == "approved"


def test_a_decided_ad_still_opens_read_only_and_its_history_is_the_timeline(as_reviewer, retailer):
    ad = held_ad(retailer)
    ad_decide(ad_id=ad.id, status="approved", reviewer="ravi", reason="Fine after a closer look at it.")
    page = as_reviewer.get(page_of(ad))
    html = page.content.decode()
    assert page.status_code == 200 and 'id="decided"' in html and "Approved by ravi at " in html
    assert 'id="decide-approve"' not in html
    history = as_reviewer.get(f"{HELD}{ad.id}/history/").content.decode()
    assert "ad.decided" in history and "staff:ravi" in history and "Fine after a closer look" in history
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", history)  # ISO 8601 with the zone


def test_an_auditor_reads_the_page_without_a_form_and_a_forged_decision_is_refused(client, auditor, retailer):
    ad = held_ad(retailer)
    client.force_login(auditor)
    html = client.get(page_of(ad)).content.decode()
    assert 'id="findings"' in html and 'id="review-form"' not in html
    assert client.post(decide_url(ad), form_data(ad)).status_code == 403
    assert client.post(f"{HELD}{ad.id}/claim/").status_code == 403
    assert Ad.objects.get(id=ad.id).status == "needs_review"


def test_an_ad_judged_again_is_decided_on_its_latest_findings_only(as_reviewer, api, retailer, intake_mode):
    # Rejected for its category, then changed (PATCH, judged in the request): held for a claim.
    ad = submit_ad(retailer, category="tobacco", headline="Fine cigars", display_url=None)
    intake_mode("sync")
    changed = api.patch(
        f"/api/v1/ads/{ad.id}",
        {"category": "sports", "headline": "The world's best garden chairs"},
        format="json",
        headers={"If-Match": f'"{ad.version}"'},
    )
    assert changed.status_code == 200, changed.content
    ad.refresh_from_db()
    assert ad.status == "needs_review"
    html = as_reviewer.get(page_of(ad)).content.decode()
    findings = html.split('id="findings"', 1)[1].split('id="ad-text"', 1)[0]
    assert "POLICY.SUPERLATIVE_CLAIM" in findings and "COMPLIANCE.PROHIBITED_CATEGORY" not in findings
    latest = Finding.objects.get(verdict__ad=ad, verdict__version=ad.version)
    data = {**form_data(ad), "then_next": ""}
    data = {k: v for k, v in data.items() if not k.startswith("finding_")} | {f"finding_{latest.id}": "overruled"}
    assert as_reviewer.post(decide_url(ad), data).status_code == 302
    assert Verdict.objects.get(ad=ad, source="staff").dispositions == {str(latest.id): "overruled"}


def test_next_is_not_for_staff_who_may_not_see_the_queue(client, operator, retailer):
    held_ad(retailer)
    client.force_login(operator)
    assert client.get(f"{HELD}next/").status_code == 403
    assert client.get("/admin/ads_write/appeal/next/").status_code == 403
