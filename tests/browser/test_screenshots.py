"""The screenshots of docs/screenshots/ (1440×900), taken from a seeded workspace:
`ADPLATFORM_SCREENSHOTS=1 make test PYTEST_ARGS="tests/browser/test_screenshots.py"` (or
`make screenshots`). Skipped otherwise: it rewrites committed files."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from adplatform.kernel.auth import Caller
from ads_write.models import Ad, ContentFingerprint
from ads_write.services.appeals import appeal_submit
from ads_write.services.reviews import review_claim
from ads_write.validation import engine
from tests.browser.conftest import sign_in
from tests.conftest import ROOT
from tests.factories import RetailerFactory, held_ad, submit_ad

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("ADPLATFORM_SCREENSHOTS"), reason="set ADPLATFORM_SCREENSHOTS=1"),
]
OUT = ROOT / "docs" / "screenshots"


def aged(ad, hours):
    Ad.objects.filter(id=ad.id).update(reviewed_at=timezone.now() - timedelta(hours=hours))
    return ad


def seed(retailer, other):
    lamps = aged(
        held_ad(
            retailer,
            headline="The best lamps in town, guaranteed to glow",
            description="Hand-blown glass lamps. <b>Best</b> prices, 100% guaranteed.",
            external_ref="LAMP-2291",
            category="home",
            evidence={"words": ["best", "guaranteed"]},
        ),
        31,
    )
    aged(
        held_ad(
            other,
            code="FRAUD.PUNYCODE_DOMAIN",
            headline="Nimbus trail shoes, 40% off",
            landing_url="https://www.n\u0456mbus-store.example/shoes",
            display_url=None,
            external_ref="SHOE-77",
            evidence={"host": "www.n\u0456mbus-store.example", "scripts": ["CYRILLIC", "LATIN"]},
            extra_findings=(
                engine.RuleFinding(
                    "POLICY.PHONE_NUMBER", "policy", "review", "A phone number in the text.", "description"
                ),
            ),
        ),
        26,
    )
    copy = aged(
        held_ad(
            retailer,
            code="FRAUD.DUPLICATE_CONTENT",
            headline="Garden chairs, weatherproof",
            evidence={"window_days": 30},
        ),
        20,
    )
    original = submit_ad(other, headline="Garden chairs, weatherproof", external_ref="CH-1")
    for each in (copy, original):
        ContentFingerprint.objects.update_or_create(
            ad_id=each.id,
            defaults={"retailer_id": each.retailer_id, "content_hash": "c" * 64, "submitted_at": each.submitted_at},
        )
    claimed = aged(held_ad(other, code="FRAUD.VELOCITY", headline="Winter jackets, all sizes"), 5)
    review_claim(ad_id=claimed.id, reviewer="ravi")
    aged(held_ad(retailer, code="FRAUD.PRICE_FLOOR", headline="Espresso machine for 1 USD"), 2)
    for headline in ("Fine cigars", "Vintage whisky tasting"):
        rejected = submit_ad(retailer, category="tobacco", headline=headline, display_url=None)
        appeal_submit(
            caller=Caller(retailer=retailer, key_prefix="docs"),
            ad_id=rejected.id,
            message=f"We hold licence LIC-2291 for this category; “{headline}” runs only where it is lawful.",
        )
    return lamps


def shoot(page, name):
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=Path(OUT / f"{name}.png"))


def test_screenshots_of_the_main_pages(page, live_server, reviewer, second_reviewer):
    nimbus, orbit = RetailerFactory(name="Nimbus Outdoor"), RetailerFactory(name="Orbit Home")
    lamps = seed(nimbus, orbit)
    sign_in(page, live_server, reviewer)
    expect(page.locator("#review-counts")).to_contain_text("Open appeals")
    shoot(page, "index")
    page.goto(f"{live_server.url}/admin/ads_write/heldad/")
    expect(page.locator("#result_list")).to_contain_text("overdue by")
    shoot(page, "queue")
    page.goto(f"{live_server.url}/admin/ads_write/heldad/{lamps.id}/change/")
    expect(page.locator("mark.evidence").first).to_be_visible()
    shoot(page, "held-ad")
    homograph = Ad.objects.get(external_ref="SHOE-77")
    page.goto(f"{live_server.url}/admin/ads_write/heldad/{homograph.id}/change/")
    expect(page.locator("#host-landing")).to_contain_text("xn--")
    shoot(page, "held-ad-homograph")
    page.goto(f"{live_server.url}/admin/ads_write/appeal/")
    expect(page.locator("#result_list")).to_contain_text("Fine cigars")
    shoot(page, "appeals-queue")
    page.get_by_role("link", name="Fine cigars").click()
    expect(page.locator("#appeal")).to_be_visible()
    shoot(page, "appeal")
