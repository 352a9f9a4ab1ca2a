"""RabbitMQ as the broker: `direct` mode answers 202 only for a message the broker confirmed
(publisher confirms); one it refuses is a 503 that accepted nothing, not an ad silently lost."""

import pytest
from kombu import Connection

from adplatform.kernel.redis_client import redis_client
from ads_write.journal import INDEX_KEY
from tests.brokers import use_broker, vhost
from tests.conftest import wait_for
from tests.factories import ad_payload

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


def _refused(producer) -> bool:
    try:
        producer.publish({"filler": True}, exchange="intake", routing_key="intake")
    except Exception:  # the broker's nack
        return True
    return False


def test_direct_mode_answers_202_only_for_what_rabbitmq_confirmed(api, intake_mode):
    from adplatform.celery import app

    intake_mode("direct")
    redis_client().delete(INDEX_KEY)
    with (
        vhost() as broker,
        use_broker(broker.url),
        Connection(broker.url, transport_options={"confirm_publish": True}) as connection,
    ):
        for queue in app.amqp.queues.values():
            queue(connection.default_channel).declare()
        first = api.post("/api/v1/ads", ad_payload(external_ref="first"), format="json")
        # A full intake queue refuses what comes on top (a broker short of disk or memory
        # refuses publishes the same way): RabbitMQ nacks the message. A quorum queue's limit
        # is soft (it refuses once over it), so fill it until it refuses.
        broker.set_policy("full", "^intake$", '{"max-length": 1, "overflow": "reject-publish"}')
        filler = connection.Producer(connection.channel())
        wait_for(lambda: _refused(filler), timeout=30, what="the intake queue to refuse messages")
        queued_before = connection.default_channel.queue_declare("intake", passive=True).message_count

        refused = api.post("/api/v1/ads", ad_payload(external_ref="refused"), format="json")
        queued = connection.default_channel.queue_declare("intake", passive=True).message_count

    assert first.status_code == 202, first.content
    assert refused.status_code == 503, refused.content
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/broker-unavailable")
    assert int(refused.headers["Retry-After"]) > 0
    assert queued == queued_before  # nothing of the refused ad in the queue...
    assert redis_client().zrange(INDEX_KEY, 0, -1) == [first.json()["id"].encode()]  # ...nor in the journal
