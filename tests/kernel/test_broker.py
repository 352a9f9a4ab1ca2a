"""The broker transport: kombu's Redis transport, reusing one synchronous client per channel."""

import base64
import json
import time

import msgspec
import pytest
import redis
from django.conf import settings
from kombu import Connection, Queue
from kombu.exceptions import OperationalError

from adplatform.celery import PIPELINE_SERIALIZER, app
from adplatform.kernel.broker import (
    Channel,
    _task_message,
    broker_pipeline,
    leases_renew,
    publish_tasks,
    task_messages_push,
)
from tests.brokers import private_rabbitmq
from tests.conftest import queued_tasks


def test_the_platform_publishes_through_its_own_redis_channel():
    with app.producer_or_acquire() as producer:
        assert isinstance(producer.channel, Channel)


def test_a_channel_reuses_its_client_until_its_pool_is_replaced():
    with app.producer_or_acquire() as producer:
        channel = producer.channel
        first = channel._create_client()
        assert channel._create_client() is first
        assert first.connection_pool is channel.pool

        channel._pool = None  # what kombu does after a connection error
        replaced = channel._create_client()
        assert replaced is not first and replaced.connection_pool is channel.pool
        # The event loop's client stays kombu's own.
        assert channel._create_client(asynchronous=True) is not replaced


def test_messages_published_through_it_arrive_in_order():
    # A queue of its own: the package's live workers consume the platform's queues.
    redis.Redis.from_url(settings.REDIS_URL).delete("broker-test")
    with app.producer_or_acquire() as producer:
        for n in (1, 2, 3):
            app.send_task("tests.broker.nothing", args=[n], queue="broker-test", producer=producer, retry=False)

    assert [args[0] for _task, args in queued_tasks(settings.REDIS_URL, queue="broker-test")] == [1, 2, 3]


def _entries(queue: str) -> list[dict]:
    return [json.loads(raw) for raw in reversed(redis.Redis.from_url(settings.REDIS_URL).lrange(queue, 0, -1))]


def test_a_task_message_pushed_on_our_pipeline_is_the_entry_kombu_pushes():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("broker-test")
    payload = [{"ad_id": "01a2199a-6ef2-7260-90f7-a7bb23306688", "n": 1}]
    with app.producer_or_acquire() as producer:
        app.send_task(
            "tests.broker.nothing",
            args=[payload],
            queue="broker-test",
            producer=producer,
            retry=False,
            serializer=PIPELINE_SERIALIZER,
            argsrepr="[<1 items>]",
        )
    pipe = client.pipeline(transaction=False)
    pipe.lpush("broker-test", _task_message(task_name="tests.broker.nothing", payload=payload, queue="broker-test"))
    pipe.execute()

    kombus, ours = _entries("broker-test")
    per_message = {"id", "root_id", "correlation_id", "delivery_tag"}
    for entry in (kombus, ours):
        assert entry["headers"]["root_id"] == entry["headers"]["id"] == entry["properties"]["correlation_id"]
        entry["body"] = msgspec.json.decode(base64.b64decode(entry.pop("body")))
        for part in ("headers", "properties"):
            entry[part] = {k: v for k, v in entry[part].items() if k not in per_message}
    kombus["properties"].pop("argsrepr")  # send_task also copies argsrepr into the properties; nothing reads it there
    assert ours == kombus
    assert [args for _task, args in queued_tasks(settings.REDIS_URL, queue="broker-test")] == [[payload], [payload]]


def test_messages_take_the_queue_celery_routes_their_task_to():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("projections")
    pipe = broker_pipeline()
    assert task_messages_push(pipe=pipe, task_name="ads_read.tasks.project_ads_task", payloads=[["a"], ["b"]]) == 2
    assert pipe.execute() == [1, 2]

    assert queued_tasks(settings.REDIS_URL, queue="projections") == [
        ("ads_read.tasks.project_ads_task", [["a"]]),
        ("ads_read.tasks.project_ads_task", [["b"]]),
    ]
    client.delete("projections")


def test_with_a_broker_of_its_own_there_is_no_shared_pipeline(settings, monkeypatch):
    assert broker_pipeline() is not None
    monkeypatch.setattr(app.conf, "broker_write_url", settings.REDIS_URL.replace("127.0.0.1", "localhost"))
    assert broker_pipeline() is None
    monkeypatch.setattr(app.conf, "broker_write_url", None)
    assert broker_pipeline() is not None
    settings.REDIS_URL = ""
    assert broker_pipeline() is None


def test_a_lease_renewal_restamps_only_the_messages_still_held():
    # Two messages delivered on a channel of ours and never acknowledged, stamped as if long
    # ago; one is then acknowledged. Renewal stamps the held one now and leaves the
    # acknowledged one out of the index (ZADD XX).
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("lease-test")
    with app.connection_for_read() as connection:
        queue = Queue("lease-test", channel=connection.default_channel)
        queue.declare()
        for n in (1, 2):
            app.send_task("tests.broker.nothing", args=[n], queue="lease-test", retry=False)
        held, acked = queue.get(no_ack=False), queue.get(no_ack=False)
        client.zadd("unacked_index", {held.delivery_tag: 1.0, acked.delivery_tag: 1.0})
        acked.ack()
        before = time.time()

        assert leases_renew(connection.transport.cycle) >= 1

        assert client.zscore("unacked_index", held.delivery_tag) >= before
        assert client.zscore("unacked_index", acked.delivery_tag) is None
        held.ack()
    assert client.zscore("unacked_index", held.delivery_tag) is None


def test_after_rabbitmq_restarts_a_publish_goes_through_although_the_pool_holds_dead_connections():
    # A web process keeps the connections of its busiest moment idle in kombu's pool; a
    # broker restart leaves them dead, and each failed its first publish (a 503) with the
    # broker back. A node of the test's own: the shared RabbitMQ is never restarted.
    with private_rabbitmq() as node:
        producers = [app.producer_pool.acquire(block=True) for _ in range(3)]
        for producer in producers:
            assert producer.channel.is_open  # connected
        for producer in producers:
            producer.release()
        node.kill()
        node.start()

        for n in range(3):
            publish_tasks(task_name="tests.broker.nothing", payloads=[[n]])

        with Connection(node.url) as connection:
            assert connection.default_channel.queue_declare("intake", passive=True).message_count == 3
        # A broker that is down still fails the publish (the request's 503).
        node.kill()
        with pytest.raises(OperationalError):
            publish_tasks(task_name="tests.broker.nothing", payloads=[[4]])


def test_a_hung_rabbitmq_fails_a_publish_within_the_socket_timeout_and_it_goes_through_once_resumed(settings):
    # A node that accepts TCP connections and answers nothing (SIGSTOP): a request publishing
    # to it waited for ever, on its pooled connection's confirm or a new one's handshake.
    settings.BROKER_SOCKET_TIMEOUT = 1.0
    with private_rabbitmq() as node:
        publish_tasks(task_name="tests.broker.nothing", payloads=[[0]])  # a pooled connection now
        node.freeze()
        try:
            for attempt in ("the pooled connection's confirm", "a new connection's handshake"):
                started = time.monotonic()
                with pytest.raises(Exception) as refused:
                    publish_tasks(task_name="tests.broker.nothing", payloads=[[1]])
                # Bounded by the socket timeout (and a connect's), not by the test's patience.
                assert time.monotonic() - started < 20, (attempt, refused.value)
        finally:
            node.thaw()
        publish_tasks(task_name="tests.broker.nothing", payloads=[[2]])
        with Connection(node.url) as connection:
            # The frozen node may have taken the refused ones before it stopped answering.
            assert connection.default_channel.queue_declare("intake", passive=True).message_count >= 2
