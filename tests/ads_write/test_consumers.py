"""At-least-once delivery: the consumers run for real (as the worker would run them, through
the Celery task objects) with duplicated and reordered events."""


import pytest

from adplatform.kernel.events import Event
from ads_read.models import AdView
from ads_read.projections import ads_project
from ads_read.tasks import project_ads_task
from ads_write import services
from ads_write.models import Ad, Finding, Verdict
from ads_write.tasks import process_submissions_task
from audit.models import AuditEntry
from tests.factories import ad_payload, intake_events

pytestmark = pytest.mark.django_db(transaction=True)


def state():
    return {
        "ads": sorted(Ad.objects.values_list("id", "status", "version")),
        "verdicts": sorted(Verdict.objects.values_list("ad_id", "version", "status")),
        "findings": Finding.objects.count(),
        "audit": sorted(AuditEntry.objects.filter(ad_id__isnull=False).values_list("ad_id", "action")),
        "views": sorted(AdView.objects.values_list("id", "status", "version")),
    }


def run(events):
    process_submissions_task.apply(args=[events]).get()
    project_ads_task.apply(args=[[e["ad_id"] for e in events]]).get()


def test_the_same_intake_event_twice_leaves_one_ad_one_verdict_one_audit_entry(retailer):
    events = intake_events(retailer.id, ad_payload(), ad_payload(category="tobacco", external_ref="t"))
    run(events)
    once = state()
    run(events)
    run(list(reversed(events)) + events)
    assert state() == once
    assert len(once["ads"]) == 2 and len(once["verdicts"]) == 2
    assert [action for _, action in once["audit"]].count("ad.validated") == 2


def test_redelivery_after_the_store_but_before_the_verdict_finishes_the_work(retailer):
    events = intake_events(retailer.id, ad_payload())
    from django.db import transaction

    with transaction.atomic():  # a worker died right after storing the ad
        services.submissions_store(events=[Event.from_dict(e) for e in events])
    assert Ad.objects.get().status == "pending"
    run(events)
    assert Ad.objects.get().status == "approved"
    assert AuditEntry.objects.filter(action="ad.submitted").count() == 1


def test_projections_out_of_order_keep_the_newest_state(retailer):
    events = intake_events(retailer.id, ad_payload(headline="Winter boots"))
    ad_id = events[0]["ad_id"]
    process_submissions_task.apply(args=[events]).get()
    # Fake a held ad so staff can decide it, and project the decision (version 3).
    Ad.objects.filter(id=ad_id).update(status="needs_review")
    services.ad_decide(ad_id=ad_id, status="rejected", reviewer="ines", reason="Misleading claim")
    ads_project(ad_ids=[ad_id])
    assert AdView.objects.get(id=ad_id).version == 3

    # A stale projection of version 2 arrives late: it must not win.
    from ads_read.projections import _upsert_newer

    stale = AdView.objects.get(id=ad_id)
    stale.version, stale.status, stale.decided_by, stale.decision_reason = 2, "approved", "", ""
    _upsert_newer([stale])
    view = AdView.objects.get(id=ad_id)
    assert (view.version, view.status, view.decided_by, view.decision_reason) == (3, "rejected", "ines", "Misleading claim")


def test_a_poison_message_becomes_a_dead_letter_and_its_neighbours_pass(retailer):
    from adplatform.kernel.models import DeadLetter

    good = intake_events(retailer.id, ad_payload())
    bad = {"schema": 99, "type": "ad.submitted"}
    process_submissions_task.apply(args=[[bad] + good]).get()
    assert Ad.objects.count() == 1
    assert DeadLetter.objects.count() == 1
    process_submissions_task.apply(args=["not a list"])
    assert DeadLetter.objects.count() == 2
