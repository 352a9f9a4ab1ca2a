"""The broker transport: kombu's Redis transport, reusing one synchronous client per channel."""

import redis
from django.conf import settings

from adplatform.celery import app
from adplatform.kernel.broker import Channel
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
