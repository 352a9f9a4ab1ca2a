"""Direct-mode commands are journaled as submissions are: a command accepted with 202 whose
message the broker lost (taken by a worker that died before storing it) is replayed from the
command journal, and the ad stays busy until it is stored."""

import pytest
import redis
from django.conf import settings

from adplatform.kernel.auth import Caller
from adplatform.kernel.events import Event
from adplatform.problems import Problem
from ads_write import journal
from ads_write.models import Ad
from ads_write.services import reconciliation
from ads_write.services.commands import COMMANDS_TASK, ads_command
from ads_write.tasks import process_commands_task
from audit.models import AuditEntry
from tests.conftest import queued_tasks
from tests.factories import submit_ad

pytestmark = pytest.mark.django_db(transaction=True)


def command(retailer, ad, action, mode="direct"):
    (result,) = ads_command(
        caller=Caller(retailer=retailer, key_prefix="test"), action=action, ad_ids=[ad.id], mode=mode
    )
    return result


def journaled(client) -> set[str]:
    return {k.decode() for k in client.zrange(journal.COMMANDS_INDEX_KEY, 0, -1)}


def commands_queued() -> list:
    return [args for task, args in queued_tasks(settings.REDIS_URL) if task == COMMANDS_TASK]


def command_stored(retailer, ad, action) -> list:
    """Command the ad in direct mode and run the consumer on its message; returns the message's args."""
    command(retailer, ad, action)
    (message,) = commands_queued()
    redis.Redis.from_url(settings.REDIS_URL).delete("intake")
    process_commands_task.apply(args=message).get()
    return message


def test_a_direct_command_is_journaled_until_the_consumer_stores_it(retailer, broker):
    ad = submit_ad(retailer)
    broker.delete("projections")
    assert command(retailer, ad, "pause").version == 3
    assert journaled(broker) == {str(ad.id)}
    (published,) = commands_queued()
    assert [e.to_dict() for e in journal.COMMANDS_JOURNAL.stale(older_than_seconds=0, limit=10)] == published[0]

    process_commands_task.apply(args=published).get()
    assert Ad.objects.get(id=ad.id).paused is True
    assert journaled(broker) == set() and broker.hlen(journal.COMMANDS_EVENTS_KEY) == 0


@pytest.mark.parametrize("mode", ["cqrs", "sync"])
def test_modes_that_store_on_the_request_path_journal_no_command(retailer, broker, mode):
    command(retailer, submit_ad(retailer), "pause", mode=mode)
    assert journaled(broker) == set()


def test_a_lost_command_keeps_the_ad_busy_and_is_replayed_once_per_threshold(retailer, broker):
    ad = submit_ad(retailer)
    command(retailer, ad, "withdraw")
    (original,) = commands_queued()
    broker.delete("intake")  # a worker took it (BRPOP) and died before storing it
    broker.delete(f"ad-command:{ad.id}")  # and its lock lapsed

    with pytest.raises(Problem) as busy:  # the next command would apply to a state not stored yet
        command(retailer, ad, "pause")
    assert (busy.value.status_code, busy.value.slug) == (409, "ad-busy")

    assert reconciliation.commands_journal_replay(older_than_seconds=0, limit=100) == 1
    (replayed,) = commands_queued()
    assert replayed == original  # the same event: the consumer takes it as a redelivery
    entry = AuditEntry.objects.get(action="ads.reconciled")
    assert entry.data["source"] == "command journal" and entry.data["ad_ids"] == [str(ad.id)]
    assert reconciliation.commands_journal_replay(older_than_seconds=60, limit=100) == 0  # its clock restarted

    process_commands_task.apply(args=replayed).get()
    assert Ad.objects.get(id=ad.id).status == "withdrawn"
    assert AuditEntry.objects.get(action="ad.withdrawn").data["version"] == 3
    assert journaled(broker) == set()
    assert reconciliation.commands_journal_replay(older_than_seconds=0, limit=100) == 0


def test_an_entry_whose_command_is_stored_is_dropped_without_a_replay(retailer, broker):
    ad = submit_ad(retailer)
    message = command_stored(retailer, ad, "pause")
    pipe = broker.pipeline()  # stored, but the consumer died before clearing its entry
    journal.COMMANDS_JOURNAL.record(events=[Event.from_dict(message[0][0])], pipe=pipe)
    pipe.execute()
    broker.delete("intake", "projections")

    assert reconciliation.commands_journal_replay(older_than_seconds=0, limit=100) == 0
    assert journaled(broker) == set() and commands_queued() == []
    assert not AuditEntry.objects.filter(action="ads.reconciled").exists()


def test_a_late_copy_of_a_stored_command_does_not_clear_the_ads_next_one(retailer, broker):
    ad = submit_ad(retailer)
    first = command_stored(retailer, ad, "pause")
    command(retailer, ad, "resume")  # journaled now
    process_commands_task.apply(args=first).get()  # a redelivery of the first, stored already
    assert journaled(broker) == {str(ad.id)}
