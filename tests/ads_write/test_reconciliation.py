"""Reconciliation: ads stuck in pending are re-published as the redeliveries they are."""

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from prometheus_client import REGISTRY

from adplatform.kernel.events import Event
from adplatform.kernel.redis_client import pipeline
from ads_read.pending import pending_get, pending_mark
from ads_write.journal import intake_journal_clear, intake_journal_record
from ads_write.models import Ad
from ads_write.services.events import PROCESS_SUBMISSIONS_TASK
from ads_write.services.reconciliation import ads_reconcile_pending, pending_markers_prune
from ads_write.services.submissions import submissions_process, submissions_store
from ads_write.tasks import process_submissions_task
from audit.models import AuditEntry
from tests.conftest import queued_tasks
from tests.factories import ad_payload, intake_events

pytestmark = pytest.mark.django_db(transaction=True)


def reconciled_total() -> float:
    return REGISTRY.get_sample_value("adplatform_reconciled_ads_total") or 0.0


def stored(events: list[dict], *, minutes_ago: int) -> None:
    with transaction.atomic():
        submissions_store(events=[Event.from_dict(e) for e in events])
    Ad.objects.filter(id__in=[e["ad_id"] for e in events]).update(
        submitted_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def test_stuck_ads_are_republished_oldest_first_with_their_original_events(retailer):
    redis.Redis.from_url(settings.REDIS_URL).delete("intake")
    oldest, older, old = intake_events(retailer.id, *(ad_payload(external_ref=f"stuck-{n}") for n in range(3)))
    stored([oldest], minutes_ago=30)
    stored([older], minutes_ago=20)
    stored([old], minutes_ago=10)
    (recent,) = intake_events(retailer.id, ad_payload(external_ref="recent"))
    stored([recent], minutes_ago=1)
    (judged,) = intake_events(retailer.id, ad_payload(external_ref="judged"))
    submissions_process(events=[Event.from_dict(judged)])
    Ad.objects.filter(id=judged["ad_id"]).update(submitted_at=timezone.now() - timedelta(minutes=30))
    counted = reconciled_total()

    assert ads_reconcile_pending(older_than_seconds=300, limit=2) == 2

    messages = queued_tasks(settings.REDIS_URL)
    assert [task for task, _args in messages] == [PROCESS_SUBMISSIONS_TASK] * 2
    republished = [args[0] for _task, args in messages]
    assert all(len(payload) == 1 for payload in republished)  # one ad per message
    for event, original in zip([p[0] for p in republished], [oldest, older], strict=True):
        ad = Ad.objects.get(id=original["ad_id"])
        assert event["event_id"] == original["event_id"] and event["ad_id"] == original["ad_id"]
        assert event["occurred_at"] == ad.submitted_at.isoformat()
        assert {k: v for k, v in event["data"].items() if k not in ("actor", "submitted_at")} == {
            k: v for k, v in original["data"].items() if k not in ("actor", "submitted_at")
        }
    assert reconciled_total() == counted + 2
    (entry,) = AuditEntry.objects.filter(action="ads.reconciled")
    assert entry.actor == "system:reconciler"
    assert entry.data["count"] == 2 and entry.data["ad_ids"] == [oldest["ad_id"], older["ad_id"]]

    # The consumer takes them as redeliveries: judged now, still one submission entry each.
    for payload in republished:
        process_submissions_task.apply(args=[payload]).get()
    assert set(Ad.objects.filter(status="pending").values_list("external_ref", flat=True)) == {"stuck-2", "recent"}
    assert AuditEntry.objects.filter(action="ad.submitted").count() == 5


def test_nothing_stuck_publishes_nothing_and_audits_nothing(retailer):
    redis.Redis.from_url(settings.REDIS_URL).delete("intake")
    stored(intake_events(retailer.id, ad_payload()), minutes_ago=1)

    assert ads_reconcile_pending(older_than_seconds=300, limit=100) == 0
    assert queued_tasks(settings.REDIS_URL) == []
    assert not AuditEntry.objects.filter(action="ads.reconciled").exists()


def test_after_a_restore_the_markers_of_ads_neither_stored_nor_journaled_are_dropped(retailer):
    # The sweep looks at every marker in Redis: start from none, whatever earlier tests left.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    kept_stored, kept_journaled, void = (
        Event.from_dict(e)
        for e in intake_events(retailer.id, *(ad_payload(external_ref=f"marked-{n}") for n in range(3)))
    )
    pipe = pipeline()
    intake_journal_record(events=[kept_journaled, void], pipe=pipe)
    pending_mark(events=[kept_stored, kept_journaled, void], pipe=pipe)
    pipe.execute()
    with transaction.atomic():
        submissions_store(events=[kept_stored])
    # The void ad was stored after the restore point and cleared from the journal: the
    # restored database no longer has it.
    intake_journal_clear(ad_ids=[void.ad_id])

    assert pending_markers_prune(batch=2) == 1

    assert pending_get(ad_id=void.ad_id) is None
    assert pending_get(ad_id=kept_stored.ad_id) and pending_get(ad_id=kept_journaled.ad_id)
    entry = AuditEntry.objects.get(action="ads.pending_markers_dropped")
    assert (entry.actor, entry.data) == ("system:reconciler", {"count": 1, "ad_ids": [void.ad_id]})
    assert pending_markers_prune() == 0  # nothing left to drop, nothing audited
    assert AuditEntry.objects.filter(action="ads.pending_markers_dropped").count() == 1
