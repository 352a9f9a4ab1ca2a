"""The direct-mode intake journal: a message the broker lost (taken from the queue by a worker
that died before recording it) is replayed from the journal; stored ads leave it."""

import pytest
from django.conf import settings
from prometheus_client import REGISTRY

from adplatform.kernel.auth import Caller
from adplatform.kernel.events import Event
from ads_write import journal
from ads_write.models import Ad
from ads_write.services import intake, reconciliation, submissions
from ads_write.tasks import process_submissions_task
from ads_write.validation.basic import validate_basic
from audit.models import AuditEntry
from tests.conftest import queued_tasks
from tests.factories import ad_payload

pytestmark = pytest.mark.django_db(transaction=True)


def submit(retailer, mode, *refs):
    caller = Caller(retailer=retailer, key_prefix="test")
    ads = [validate_basic(ad_payload(external_ref=ref)).ad for ref in refs]
    return [str(a.id) for a in intake.ads_submit(caller=caller, ads=ads, mode=mode)]


def journaled(client) -> dict[str, float]:
    return {k.decode(): score for k, score in client.zrange(journal.INDEX_KEY, 0, -1, withscores=True)}


def reconciled_total() -> float:
    return REGISTRY.get_sample_value("adplatform_reconciled_ads_total") or 0.0


def test_direct_mode_journals_what_it_published_and_the_consumer_clears_it(retailer, broker):
    ids = submit(retailer, "direct", "a", "b")

    assert set(journaled(broker)) == set(ids)
    (message,) = queued_tasks(settings.REDIS_URL)
    published = message[1][0]
    assert [journal.intake_journal_stale(older_than_seconds=0, limit=10)[i].to_dict() for i in (0, 1)] == published

    process_submissions_task.apply(args=[published]).get()
    assert Ad.objects.filter(id__in=ids).count() == 2
    assert journaled(broker) == {} and broker.hlen(journal.EVENTS_KEY) == 0


@pytest.mark.parametrize("mode", ["cqrs", "sync"])
def test_modes_that_store_on_the_request_path_journal_nothing(retailer, broker, mode):
    submit(retailer, mode, "a")
    assert journaled(broker) == {}


def test_a_message_lost_on_its_way_to_a_worker_is_replayed_once_per_threshold(retailer, broker):
    (ad_id,) = submit(retailer, "direct", "lost")
    (original,) = queued_tasks(settings.REDIS_URL)
    broker.delete("intake")  # a worker took it (BRPOP) and died before recording it
    counted = reconciled_total()

    assert reconciliation.intake_journal_replay(older_than_seconds=0, limit=100) == 1

    (replayed,) = queued_tasks(settings.REDIS_URL)
    assert replayed == original  # the same event: the consumer takes it as a redelivery
    assert reconciled_total() == counted + 1
    entry = AuditEntry.objects.get(action="ads.reconciled")
    assert entry.data["source"] == "journal" and entry.data["ad_ids"] == [ad_id]
    # Its clock restarted: not replayed again before another threshold has passed.
    assert reconciliation.intake_journal_replay(older_than_seconds=60, limit=100) == 0
    assert len(queued_tasks(settings.REDIS_URL)) == 1

    process_submissions_task.apply(args=replayed[1]).get()
    assert Ad.objects.get(id=ad_id).status == "approved"
    assert journaled(broker) == {}
    assert reconciliation.intake_journal_replay(older_than_seconds=0, limit=100) == 0


def test_an_entry_whose_ad_is_stored_is_dropped_without_a_replay(retailer, broker):
    (ad_id,) = submit(retailer, "direct", "stored")
    (message,) = queued_tasks(settings.REDIS_URL)
    broker.delete("intake")
    submissions.submissions_process(events=[Event.from_dict(e) for e in message[1][0]])
    assert ad_id in journaled(broker)  # stored, but the consumer died before clearing its entry

    assert reconciliation.intake_journal_replay(older_than_seconds=0, limit=100) == 0
    assert journaled(broker) == {} and broker.hlen(journal.EVENTS_KEY) == 0
    assert queued_tasks(settings.REDIS_URL) == []
    assert not AuditEntry.objects.filter(action="ads.reconciled").exists()


def test_replay_takes_the_oldest_entries_first_and_at_most_the_limit(retailer, broker):
    ids = [submit(retailer, "direct", f"lost-{n}")[0] for n in range(3)]
    broker.delete("intake")
    for age, ad_id in zip((300, 200, 100), ids, strict=True):
        broker.zadd(journal.INDEX_KEY, {ad_id: journaled(broker)[ad_id] - age})

    assert reconciliation.intake_journal_replay(older_than_seconds=150, limit=1) == 1
    assert [args[0][0]["ad_id"] for _task, args in queued_tasks(settings.REDIS_URL)] == [ids[0]]
    assert reconciliation.intake_journal_replay(older_than_seconds=150, limit=10) == 1
    assert [args[0][0]["ad_id"] for _task, args in queued_tasks(settings.REDIS_URL)] == ids[:2]
