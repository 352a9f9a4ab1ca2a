"""Compliance staff in a real browser: an auditor logs in, filters the rejected ads and reads
an ad's timeline; a reviewer decides a held ad with a reason; nobody can edit anything."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import held_ad, submit_ad

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def signed_in(page, live_server, auditor):
    """The page, with the auditor signed in to the admin."""
    return sign_in(page, live_server, auditor)


@pytest.fixture
def reviewer_signed_in(page, live_server, reviewer):
    return sign_in(page, live_server, reviewer)


def rows(page):
    return page.locator("#result_list tbody tr")


def test_an_auditor_filters_the_rejected_ads_and_reads_a_timeline(signed_in, retailer, other_retailer):
    page = signed_in
    submit_ad(retailer, headline="Trail running shoes")
    cigars = submit_ad(
        other_retailer,
        category="tobacco",
        headline="Fine cigars",
        display_url=None,
        landing_url="https://www.cigar-house.example/cuba",
    )
    submit_ad(retailer, headline="Shoes on sale!! Hurry!!", external_ref="SALE")
    held_ad(retailer, headline="Lamps guaranteed to glow")

    page.get_by_role("link", name="Ads", exact=True).first.click()
    expect(rows(page)).to_have_count(4)
    page.locator("#changelist-filter").get_by_role("link", name="Rejected").click()
    expect(rows(page)).to_have_count(2)
    expect(page.locator("#result_list")).to_contain_text("Fine cigars")
    expect(page.locator("#result_list")).to_contain_text("Shoes on sale!! Hurry!!")
    expect(page.locator("#result_list")).not_to_contain_text("Trail running shoes")

    page.get_by_role("link", name="Fine cigars").click()
    expect(page).to_have_url(re.compile(f"/admin/ads_write/ad/{cigars.id}/change/"))
    timeline = page.locator("#timeline tbody tr")
    expect(timeline).to_have_count(2)
    expect(timeline.nth(0)).to_contain_text("ad.submitted")
    expect(timeline.nth(1)).to_contain_text("ad.validated")
    expect(timeline.nth(1)).to_contain_text("system:validator")
    expect(page.locator("#verdicts")).to_contain_text("COMPLIANCE.PROHIBITED_CATEGORY")


def test_a_reviewer_rejects_a_held_ad_with_a_reason_and_sees_it_in_the_timeline(reviewer_signed_in, retailer):
    page = reviewer_signed_in
    ad = held_ad(retailer, headline="Lamps guaranteed to glow")

    page.get_by_role("link", name="Ads held for review").first.click()
    expect(rows(page)).to_have_count(1)
    expect(rows(page)).to_contain_text("POLICY.SUPERLATIVE_CLAIM")
    page.check(f"input[name=_selected_action][value='{ad.id}']")
    page.select_option("select[name=action]", "reject_held")
    page.click("button[name=index]")

    expect(page.locator("h1")).to_have_text("Reject ads held for review")
    page.select_option("select[name=reason_code]", "MISLEADING_CLAIM")
    page.fill("textarea[name=reason]", "The glow guarantee is unproven.")
    page.click("#decision-form input[type=submit]")

    expect(page.locator(".messagelist .success")).to_have_text(
        "Rejected 1 ad(s): “Lamps guaranteed to glow”. Reason recorded."
    )
    expect(rows(page)).to_have_count(0)

    page.goto(page.url.split("/admin/")[0] + f"/admin/ads_write/ad/{ad.id}/change/")
    expect(page.locator(".field-status .readonly")).to_have_text("Rejected")
    last = page.locator("#timeline tbody tr").last
    expect(last).to_contain_text("ad.decided")
    expect(last).to_contain_text("staff:rita")
    expect(last).to_contain_text("The glow guarantee is unproven.")
    expect(page.locator("#verdicts")).to_contain_text("Reason: MISLEADING_CLAIM The glow guarantee is unproven.")


def test_an_auditor_can_neither_edit_an_ad_nor_an_audit_entry(signed_in, retailer):
    page = signed_in
    ad = submit_ad(retailer)
    base = page.url.split("/admin/")[0]
    for path in (f"/admin/ads_write/ad/{ad.id}/change/", "/admin/audit/auditentry/"):
        page.goto(base + path)
        if path.endswith("auditentry/"):
            page.locator("#result_list tbody tr th a").first.click()
        expect(page.locator("input[name=_save]")).to_have_count(0)
        expect(page.locator("form input[type=text], form textarea")).to_have_count(0)
        # Even a hand-made POST with a valid CSRF token is refused.
        csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
        response = page.request.post(
            page.url,
            form={"headline": "Changed", "actor": "staff:mallory"},
            headers={"X-CSRFToken": csrf, "Referer": page.url},
        )
        assert response.status == 403 and "CSRF" not in response.text()
    ad.refresh_from_db()
    assert ad.headline == "Trail running shoes"
