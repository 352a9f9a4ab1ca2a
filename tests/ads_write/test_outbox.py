"""The outbox relay: several relays at once publish each row exactly once; published rows
are purged after their retention."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from adplatform.celery import app
from ads_write.models import OutboxMessage
from ads_write.services import housekeeping
from ads_write.services.events import PROCESS_SUBMISSIONS_TASK
from ads_write.services.housekeeping import outbox_purge
from ads_write.services.outbox import outbox_add, outbox_publish
from ads_write.tasks import maintenance_outbox_purge_task
from tests.conftest import queued_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_relays_at_once_publish_each_outbox_row_exactly_once():
    redis.Redis.from_url(settings.REDIS_URL).delete("intake")
    for n in range(200):
        outbox_add(task_name=PROCESS_SUBMISSIONS_TASK, payload=[{"n": n}])
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    start = threading.Barrier(2)

    def relay():
        start.wait()
        try:  # small batches, so that the two take turns on the rows
            return outbox_publish(older_than_seconds=30, limit=10)
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        published = list(pool.map(lambda _: relay(), range(2)))

    assert sum(published) == 200
    payloads = sorted(args[0][0]["n"] for _task, args in queued_tasks(settings.REDIS_URL))
    assert payloads == list(range(200))  # each row once
    assert not OutboxMessage.objects.filter(published_at__isnull=True).exists()


def test_the_sweep_leaves_rows_younger_than_its_threshold():
    redis.Redis.from_url(settings.REDIS_URL).delete("intake")
    old = outbox_add(task_name=PROCESS_SUBMISSIONS_TASK, payload=[{"n": "old"}])
    young = outbox_add(task_name=PROCESS_SUBMISSIONS_TASK, payload=[{"n": "young"}])
    OutboxMessage.objects.filter(id=old).update(created_at=timezone.now() - timedelta(minutes=1))

    assert outbox_publish(older_than_seconds=30) == 1
    assert OutboxMessage.objects.get(id=young).published_at is None
    assert [args for _task, args in queued_tasks(settings.REDIS_URL)] == [[[{"n": "old"}]]]


def test_the_relay_after_commit_publishes_all_its_rows_even_beyond_one_batch():
    redis.Redis.from_url(settings.REDIS_URL).delete("intake")
    ids = [outbox_add(task_name=PROCESS_SUBMISSIONS_TASK, payload=[{"n": n}]) for n in range(25)]

    assert outbox_publish(ids=ids, limit=10) == 25
    assert len(queued_tasks(settings.REDIS_URL)) == 25


def test_the_relay_after_commit_takes_its_rows_in_one_round(django_assert_num_queries):
    # A cqrs request publishes its own row on commit: one SELECT … FOR UPDATE and one UPDATE
    # (and the transaction's savepoint pair in the test's transaction), no second look.
    row_id = outbox_add(task_name=PROCESS_SUBMISSIONS_TASK, payload=[{"n": 1}])
    with django_assert_num_queries(4):
        assert outbox_publish(ids=[row_id]) == 1


def outbox_rows(**ages) -> None:
    """One outbox row per name: (created, published) days ago, published None for never."""
    now = timezone.now()
    for name, (created, published) in ages.items():
        row_id = outbox_add(task_name=PROCESS_SUBMISSIONS_TASK, payload=[{"n": name}])
        OutboxMessage.objects.filter(id=row_id).update(
            created_at=now - timedelta(days=created),
            published_at=None if published is None else now - timedelta(days=published),
        )


def remaining() -> list[str]:
    return sorted(payload[0]["n"] for payload in OutboxMessage.objects.values_list("payload", flat=True))


def test_the_purge_deletes_rows_published_before_the_retention_in_chunks_and_never_unpublished_ones(monkeypatch):
    monkeypatch.setattr(housekeeping, "PURGE_CHUNK", 2)
    outbox_rows(
        **{f"old-{n}": (9, 8) for n in range(5)},
        never_published=(30, None),  # the sweep still owes it to the broker
        published_late=(10, 6),  # created long ago, but published within the retention
        recent=(1, 1),
    )

    with CaptureQueriesContext(connection) as queries:
        assert outbox_purge(older_than_days=7) == 5

    assert remaining() == ["never_published", "published_late", "recent"]
    assert len([q for q in queries if q["sql"].startswith("DELETE")]) == 3  # chunks of 2: 2, 2, 1
    assert outbox_purge(older_than_days=7) == 0


def test_beat_purges_the_outbox_daily_on_the_maintenance_queue_with_the_retention_setting(settings):
    entry = app.conf.beat_schedule["purge-outbox"]
    assert entry["task"] == maintenance_outbox_purge_task.name
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {45})
    assert app.amqp.router.route({}, entry["task"])["queue"].name == "maintenance"
    outbox_rows(week_old=(8, 8), two_days_old=(2, 2))
    settings.OUTBOX_RETENTION_DAYS = 1
    assert maintenance_outbox_purge_task.apply().get() == 2
    outbox_rows(week_old=(8, 8), two_days_old=(2, 2))
    settings.OUTBOX_RETENTION_DAYS = 7
    assert maintenance_outbox_purge_task.apply().get() == 1
    assert remaining() == ["two_days_old"]
