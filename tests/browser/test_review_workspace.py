# ruff: noqa: F811  (pytest fixtures imported from tests/notifications, used as arguments)
"""The compliance workspace in a real browser (Chromium, 1440×900): a reviewer decides with
the keyboard and lands on the next held ad; an auditor can neither decide nor run operator
actions (a forged POST is refused by the server); a retailer's appeal goes through the
queue to a reviewer's decision and out as a signed webhook; the held-ad page highlights
the evidence in the ad's own (escaped) text."""

import json
import re

import pytest
from playwright.sync_api import expect

from adplatform.kernel.models import DeadLetter
from adplatform.kernel.services import api_key_create
from ads_write.models import Ad, Appeal, Verdict
from audit.models import AuditEntry
from notifications.services import webhook_deliveries
from tests.browser.conftest import sign_in
from tests.conftest import running_worker, wait_for
from tests.factories import held_ad, submit_ad
from tests.notifications.conftest import receiver, verify_signature  # noqa: F401  (receiver: a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def decide_by_keyboard(page, *, reason_code: str, reason: str, key: str):
    page.wait_for_load_state("domcontentloaded")  # the shortcuts are bound then (review.js)
    page.select_option("#id_reason_code", reason_code)
    page.fill("#id_reason", reason)
    for radio in page.locator(".disposition input[value=overruled]").all():
        radio.check()
    page.keyboard.press("Escape")  # out of the text field: the shortcuts work again
    page.keyboard.press(key)


def test_a_reviewer_decides_with_the_keyboard_and_lands_on_the_next_item(page, live_server, reviewer, retailer):
    first = held_ad(retailer, headline="Lamps guaranteed to glow", external_ref="LAMP-1")
    second = held_ad(retailer, headline="Chairs that last forever", external_ref="CHAIR-2")
    Ad.objects.filter(id=first.id).update(reviewed_at=first.reviewed_at.replace(year=first.reviewed_at.year - 1))
    sign_in(page, live_server, reviewer)
    page.get_by_role("link", name="Ads held for review").first.click()
    expect(page.locator("#result_list tbody tr").first).to_contain_text("overdue by")
    page.get_by_role("link", name="Lamps guaranteed to glow").click()
    expect(page.locator("#findings")).to_be_visible()
    # review.js binds the shortcuts at DOMContentLoaded, which can come after the page shows:
    # a key pressed before it is lost (seen once in a full run).
    page.wait_for_load_state("domcontentloaded")

    page.keyboard.press("a")  # no reason yet: nothing is sent, the reason field asks for more
    expect(page.locator("#id_reason")).to_be_focused()
    assert Ad.objects.get(id=first.id).status == "needs_review"

    decide_by_keyboard(page, reason_code="CLAIM_SUBSTANTIATED", reason="The lab report shows the glow claim.", key="a")
    expect(page).to_have_url(re.compile(f"/admin/ads_write/heldad/{second.id}/change/$"))
    expect(page.locator(".messagelist .success")).to_have_text("Approved “Lamps guaranteed to glow”. Reason recorded.")
    expect(page.locator("#claim")).to_contain_text("You are reviewing this ad")
    verdict = Verdict.objects.get(ad_id=first.id, source="staff")
    assert (verdict.status, verdict.reviewer, verdict.reason_code) == ("approved", "rita", "CLAIM_SUBSTANTIATED")

    decide_by_keyboard(page, reason_code="MISLEADING_CLAIM", reason="Nothing lasts forever; unproven.", key="r")
    expect(page).to_have_url(re.compile("/admin/ads_write/heldad/$"))  # the queue is empty now
    expect(page.locator(".messagelist")).to_contain_text("nothing else is waiting")
    assert Ad.objects.get(id=second.id).status == "rejected"


def test_an_auditor_can_neither_decide_nor_run_operator_actions(page, live_server, auditor, retailer):
    ad = held_ad(retailer, headline="Lamps guaranteed to glow")
    letter = DeadLetter.objects.create(task_name="ads_write.tasks.process_submissions_task", error="PoisonMessage")
    sign_in(page, live_server, auditor)
    page.goto(f"{live_server.url}/admin/ads_write/heldad/{ad.id}/change/")
    expect(page.locator("#findings")).to_be_visible()
    expect(page.locator("#review-form")).to_have_count(0)
    expect(page.locator(".review-side")).to_contain_text("Reviewers decide")
    page.keyboard.press("a")
    page.goto(f"{live_server.url}/admin/ads_write/heldad/")
    expect(page.locator("select[name=action] option[value=approve_held]")).to_have_count(0)
    page.goto(f"{live_server.url}/admin/kernel/deadletter/")
    expect(page.locator("#result_list")).to_contain_text("PoisonMessage")
    expect(page.locator("select[name=action] option[value=replay_dead_letters]")).to_have_count(0)
    page.goto(f"{live_server.url}/admin/kernel/retailer/")
    expect(page.locator("select[name=action] option[value=change_report_settings]")).to_have_count(0)

    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    forged = {"X-CSRFToken": csrf, "Referer": page.url}
    decision = page.request.post(
        f"{live_server.url}/admin/ads_write/heldad/{ad.id}/decide/",
        form={"decision": "approved", "reason_code": "CLAIM_SUBSTANTIATED", "reason": "I decide, then audit myself."},
        headers=forged,
    )
    replay = page.request.post(
        f"{live_server.url}/admin/kernel/deadletter/",
        form={"action": "replay_dead_letters", "index": "0", "_selected_action": str(letter.id)},
        headers=forged,
    )
    assert decision.status == replay.status == 403 and "Not allowed (403)" in decision.text()
    page.set_content(decision.text())
    expect(page.locator("#user-tools")).to_contain_text(auditor.username)  # the admin's chrome, a way back
    assert Ad.objects.get(id=ad.id).status == "needs_review"
    letter.refresh_from_db()
    assert letter.replayed_at is None and not AuditEntry.objects.filter(action="dead_letter.replayed").exists()


def test_the_held_ad_page_highlights_the_evidence_in_the_ads_escaped_text(page, live_server, reviewer, retailer):
    ad = held_ad(
        retailer,
        headline="The <b>best</b> lamps, guaranteed",
        landing_url="https://www.n\u0456mbus-store.example/lamps",
        display_url=None,
        evidence={"words": ["best", "guaranteed"]},
    )
    sign_in(page, live_server, reviewer)
    page.goto(f"{live_server.url}/admin/ads_write/heldad/{ad.id}/change/")
    headline = page.locator("#field-headline .ad-text")
    expect(headline).to_contain_text("The <b>best</b> lamps, guaranteed")  # shown as text, not run as markup
    expect(headline.locator("mark.evidence")).to_have_text(["best", "guaranteed"])
    expect(headline.locator("b")).to_have_count(0)
    expect(page.locator("#host-landing .host mark.confusable")).to_have_text("\u0456")
    expect(page.locator("#host-landing")).to_contain_text("www.xn--nmbus-store-zvj.example")
    expect(page.locator("#host-landing")).to_contain_text("Cyrillic")
    box = page.locator("#findings").bounding_box()
    assert box["y"] < 400  # the findings are on the first screen


@pytest.fixture(scope="module")
def webhook_worker(django_db_setup, tmp_path_factory):
    """A real worker: projects the decision and posts its webhook to the local receiver."""
    with running_worker(tmp_path_factory, WEBHOOK_ALLOW_HTTP="true", WEBHOOK_ALLOW_PRIVATE_NETWORKS="true") as worker:
        yield worker


def test_an_appeal_goes_through_the_queue_to_a_decision_and_a_webhook(
    page,
    live_server,
    reviewer,
    retailer,
    receiver,
    webhook_worker,
    settings,
):
    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    ad = submit_ad(retailer, category="tobacco", headline="Fine cigars", display_url=None)
    hook = webhook_deliveries.webhook_endpoint_create(
        retailer=retailer, url=receiver.url(), events=["ad.appeal_decided"], actor="retailer:test"
    )
    key = api_key_create(retailer=retailer)
    answer = page.request.post(
        f"{live_server.url}/api/v1/ads/{ad.id}/appeals",
        data=json.dumps({"message": "We hold tobacco licence LIC-2291; the ad is lawful here."}),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Idempotency-Key": "appeal-1"},
    )
    assert answer.status == 201, answer.text()

    sign_in(page, live_server, reviewer)
    expect(page.locator("#review-counts .count-appeals")).to_contain_text("1")
    page.locator("#review-counts").get_by_role("link", name="Open appeals").click()
    page.get_by_role("link", name="Fine cigars").click()
    expect(page.locator("#appeal")).to_contain_text("We hold tobacco licence LIC-2291")
    decide_by_keyboard(
        page, reason_code="LICENSED_ADVERTISER", reason="Licence LIC-2291 verified with the board.", key="a"
    )
    expect(page.locator(".messagelist .success")).to_contain_text("Appeal on “Fine cigars” granted")

    request = wait_for(lambda: receiver.requests[:1], what="the ad.appeal_decided webhook", timeout=60)[0]
    assert request.headers["Adplatform-Event-Type"] == "ad.appeal_decided"
    assert verify_signature(secret=hook.secret, header=request.headers["Adplatform-Signature"], body=request.body)
    event = json.loads(request.body)
    assert event["ad"]["status"] == "approved" and event["ad"]["appeal"]["decision"]["by"] == "rita"
    assert Appeal.objects.get().status == "decided"
    document = page.request.get(f"{live_server.url}/api/v1/ads/{ad.id}", headers={"Authorization": f"Bearer {key}"})
    assert document.json()["appeal"]["decision"]["status"] == "approved"
