"""Write-side services: intake in each mode (without workers) and staff decisions."""

import pytest

from adplatform.kernel.auth import Caller
from adplatform.kernel.events import PROJECT_ADS_TASK
from ads_write.models import Ad, OutboxMessage, Verdict
from ads_write.services import decisions, events, intake
from ads_write.validation.basic import validate_basic
from ads_write.validation.ruleset import current_ruleset
from audit.models import AuditEntry
from tests.factories import ad_payload

pytestmark = pytest.mark.django_db(transaction=True)


def submit(retailer, mode, **overrides):
    caller = Caller(retailer=retailer, key_prefix="test")
    return intake.ads_submit(caller=caller, ads=[validate_basic(ad_payload(**overrides)).ad], mode=mode)[0]


def test_cqrs_stores_the_ad_with_an_outbox_row_and_publishes_it(retailer):
    accepted = submit(retailer, "cqrs")
    ad = Ad.objects.get(id=accepted.id)
    assert (ad.status, ad.version) == ("pending", 1)
    row = OutboxMessage.objects.get()
    assert row.task_name == events.PROCESS_SUBMISSIONS_TASK and row.payload[0]["ad_id"] == str(ad.id)
    assert row.published_at is not None  # the after-commit relay ran
    entry = AuditEntry.objects.get(ad_id=ad.id)
    assert (entry.action, entry.actor, entry.retailer_id) == (
        "ad.submitted",
        f"retailer:{retailer.id}/key:test",
        retailer.id,
    )
    assert entry.data["headline"] == ad.headline and entry.data["landing_url"] == ad.landing_url  # the snapshot
    assert "actor" not in entry.data


def test_direct_stores_nothing_on_the_request_path(retailer):
    accepted = submit(retailer, "direct")
    assert accepted.status == "pending"
    assert not Ad.objects.exists() and not AuditEntry.objects.filter(action="ad.submitted").exists()


def test_sync_answers_with_the_final_state(retailer):
    accepted = submit(retailer, "sync", category="firearms")
    assert accepted.status == "rejected"
    verdict = Verdict.objects.get(ad_id=accepted.id)
    assert verdict.findings.filter(code="COMPLIANCE.PROHIBITED_CATEGORY").exists()
    # The ruleset that judged it is on the record, on the verdict and the ad.
    assert verdict.ruleset_version == Ad.objects.get(id=accepted.id).ruleset_version == current_ruleset().version


@pytest.fixture
def held_ad(retailer):
    accepted = submit(retailer, "sync", headline="The number one trail shoe")  # POLICY.SUPERLATIVE_CLAIM: review
    ad = Ad.objects.get(id=accepted.id)
    assert ad.status == "needs_review", Verdict.objects.get(ad=ad).findings.values_list("code", flat=True)
    return ad


def test_staff_decide_a_held_ad_with_a_reason(held_ad):
    ad = decisions.ad_decide(
        ad_id=held_ad.id, status="approved", reviewer="ines", reason="Claim substantiated by award"
    )
    assert (ad.status, ad.version) == ("approved", 3) and ad.decided_at
    verdict = Verdict.objects.get(ad=ad, version=3)
    assert (verdict.source, verdict.reviewer, verdict.reason) == ("staff", "ines", "Claim substantiated by award")
    assert verdict.ruleset_version == current_ruleset().version  # the ruleset whose findings were reviewed
    entry = AuditEntry.objects.get(ad_id=ad.id, action="ad.decided")
    assert entry.actor == "staff:ines" and entry.data["reason"] == "Claim substantiated by award"
    assert OutboxMessage.objects.filter(task_name=PROJECT_ADS_TASK, payload=[str(ad.id)]).exists()


@pytest.mark.parametrize(
    "status, reason, reviewer, message",
    [
        ("approved", "  ", "ines", "written reason"),
        ("pending", "ok", "ines", "'approved' or 'rejected'"),
        ("needs_review", "x", "ines", "'approved' or 'rejected'"),
        ("approved", "Checked", " ", "reviewer"),
    ],
)
def test_a_decision_needs_a_final_status_a_reason_and_a_reviewer(held_ad, status, reason, reviewer, message):
    with pytest.raises(decisions.DecisionError, match=message):
        decisions.ad_decide(ad_id=held_ad.id, status=status, reviewer=reviewer, reason=reason)
    held_ad.refresh_from_db()
    assert held_ad.status == "needs_review"


def test_only_held_ads_can_be_decided(held_ad):
    decisions.ad_decide(ad_id=held_ad.id, status="rejected", reviewer="ines", reason="Unsubstantiated claim")
    with pytest.raises(decisions.DecisionError, match="held for review"):
        decisions.ad_decide(ad_id=held_ad.id, status="approved", reviewer="omar", reason="Changed my mind")
    assert AuditEntry.objects.filter(ad_id=held_ad.id, action="ad.decided").count() == 1
