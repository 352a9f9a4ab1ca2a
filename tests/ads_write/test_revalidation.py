"""Re-judging live approved ads with a new ruleset (`manage.py revalidate`): each changed
verdict is a new version with that ruleset, an audit entry, a projected read row and a
webhook; an ad the new ruleset still approves is not touched."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from ads_read.models import AdView
from ads_write.models import Ad, AdStatus, Verdict
from ads_write.validation.ruleset import DEFAULT_RULESET
from audit.models import AuditEntry
from notifications.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import wait_for
from tests.factories import RetailerFactory, held_ad, submit_ad

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pipeline]

NEW_VERSION = "2026-12.0"


@pytest.fixture
def new_ruleset(tmp_path) -> str:
    """The shipped ruleset with "marathon" prohibited (reject) and "unbeatable" an
    unsupported superlative (review)."""
    data = json.loads(DEFAULT_RULESET.read_text())
    data["version"] = NEW_VERSION
    data["policy"]["prohibited_words"].append("marathon")
    data["policy"]["superlatives"].append("unbeatable")
    path = tmp_path / "2026-12.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def live_ads(retailer):
    WebhookEndpoint.objects.create(
        retailer=retailer, url="https://hooks.example/ads", events=["ad.rejected", "ad.needs_review"], secret="s"
    )
    ads = {
        "marathon": submit_ad(retailer, external_ref="m", headline="Marathon shoes"),
        "unbeatable": submit_ad(retailer, external_ref="u", headline="Unbeatable trail shoes"),
        "plain": submit_ad(retailer, external_ref="p"),
        "ended": submit_ad(retailer, external_ref="e", headline="Marathon shoes, last season"),
        "held": held_ad(retailer, external_ref="h", headline="Marathon socks"),
        "theirs": submit_ad(RetailerFactory(name="Other Retailer"), external_ref="t", headline="Marathon caps"),
    }
    assert {name: ad.status for name, ad in ads.items()} == {
        **dict.fromkeys(("marathon", "unbeatable", "plain", "ended", "theirs"), AdStatus.APPROVED),
        "held": AdStatus.NEEDS_REVIEW,
    }
    # An ad whose run has ended is not live: nobody sees it any more.
    Ad.objects.filter(id=ads["ended"].id).update(ends_at=timezone.now() - timedelta(days=1))
    return ads


def revalidate(*args) -> str:
    out = StringIO()
    call_command("revalidate", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def state() -> dict:
    return {
        "ads": sorted(Ad.objects.values_list("id", "status", "version", "ruleset_version")),
        "verdicts": Verdict.objects.count(),
        "audit": AuditEntry.objects.count(),
        "deliveries": WebhookDelivery.objects.count(),
    }


def test_a_dry_run_reports_and_changes_nothing(live_ads, new_ruleset):
    before = state()

    out = revalidate("--ruleset", new_ruleset, "--dry-run")

    assert "judged 4 live approved ads; would change: 1 needs_review, 2 rejected" in out
    assert str(live_ads["marathon"].id) in out
    assert state() == before


def test_a_revalidation_scoped_to_a_retailer_leaves_the_others_alone(live_ads, new_ruleset, retailer):
    out = revalidate("--ruleset", new_ruleset, "--retailer", "Other Retailer")

    assert "judged 1 live approved ads; changed: 1 rejected" in out
    assert Ad.objects.get(id=live_ads["theirs"].id).status == AdStatus.REJECTED
    assert Ad.objects.get(id=live_ads["marathon"].id).status == AdStatus.APPROVED


def test_the_shipped_ruleset_is_found_by_its_version_and_changes_nothing(live_ads):
    before = state()
    version = json.loads(DEFAULT_RULESET.read_text())["version"]

    assert "judged 4 live approved ads; changed: none" in revalidate("--ruleset", version)
    assert state() == before
    with pytest.raises(CommandError, match="no ruleset"):
        revalidate("--ruleset", "1999-01.0")


# Last in the module: its real worker (module scope) lives on after it, and a worker still
# projecting while a later test's teardown truncates the tables deadlocks with it.
def test_revalidation_changes_only_what_the_new_ruleset_judges_differently(celery_worker, live_ads, new_ruleset):
    before = state()
    untouched = {name: live_ads[name] for name in ("plain", "ended", "held")}

    out = revalidate("--ruleset", new_ruleset)

    assert f"ruleset {NEW_VERSION}: judged 4 live approved ads; changed: 1 needs_review, 2 rejected" in out
    for name, status, code in (
        ("marathon", AdStatus.REJECTED, "POLICY.PROHIBITED_WORDS"),
        ("unbeatable", AdStatus.NEEDS_REVIEW, "POLICY.SUPERLATIVE_CLAIM"),
        ("theirs", AdStatus.REJECTED, "POLICY.PROHIBITED_WORDS"),
    ):
        ad = Ad.objects.get(id=live_ads[name].id)
        assert (ad.status, ad.version, ad.ruleset_version) == (status, 3, NEW_VERSION)
        verdict = ad.verdicts.get(version=3)
        assert (verdict.status, verdict.source, verdict.ruleset_version) == (status, "engine", NEW_VERSION)
        assert [f.code for f in verdict.findings.all()] == [code]
        (entry,) = AuditEntry.objects.filter(ad_id=ad.id, action="ad.revalidated")
        assert (entry.actor, entry.data["status"], entry.data["version"], entry.data["ruleset_version"]) == (
            "system:revalidation",
            status,
            3,
            NEW_VERSION,
        )
        assert entry.data["previous_ruleset_version"] == live_ads[name].ruleset_version
    # Unchanged: no new version, no verdict, no audit entry, nothing written.
    for ad in untouched.values():
        assert Ad.objects.filter(id=ad.id, version=ad.version, status=ad.status).exists()
        assert not AuditEntry.objects.filter(ad_id=ad.id, action="ad.revalidated").exists()
    assert Verdict.objects.count() == before["verdicts"] + 3
    assert AuditEntry.objects.count() == before["audit"] + 3

    # The usual path: the projection (a real worker) updates the read rows and creates the
    # webhook deliveries of the new states.
    changed = [live_ads[name].id for name in ("marathon", "unbeatable", "theirs")]
    wait_for(
        lambda: AdView.objects.filter(id__in=changed, version=3).count() == 3,
        timeout=60,
        what="the revalidated ads to be projected",
        details=lambda: celery_worker.log_path.read_text()[-3000:],
    )
    view = AdView.objects.get(id=live_ads["marathon"].id)
    assert (view.status, view.ruleset_version, view.finding_codes) == (
        AdStatus.REJECTED,
        NEW_VERSION,
        " POLICY.PROHIBITED_WORDS ",
    )
    wait_for(lambda: WebhookDelivery.objects.count() == before["deliveries"] + 2, what="the webhook deliveries")
    assert sorted(WebhookDelivery.objects.values_list("ad_id", "event_type", "version")) == sorted(
        [(live_ads["marathon"].id, "ad.rejected", 3), (live_ads["unbeatable"].id, "ad.needs_review", 3)]
    )
    assert AdView.objects.get(id=live_ads["plain"].id).version == 2
    # (The worker tries them at once; hooks.example does not resolve. Let it finish, so that
    # it holds no transaction when the test database is emptied.)
    wait_for(lambda: not WebhookDelivery.objects.filter(attempts=0).exists(), what="the first webhook attempts")

    # Again: what changed is no longer approved, the rest is still approved by the new rules.
    again = state()
    assert "judged 1 live approved ads; changed: none" in revalidate("--ruleset", new_ruleset)
    assert state() == again
