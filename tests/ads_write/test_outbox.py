"""The outbox relay: several relays at once publish each row exactly once."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from ads_write.models import OutboxMessage
from ads_write.services import PROCESS_SUBMISSIONS_TASK, outbox_add, outbox_publish
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
