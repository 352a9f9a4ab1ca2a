"""The pipeline's queues as each broker declares them (settings.py sets CELERY_TASK_QUEUES
from `task_queues`; nothing here reads a Django setting, so settings can import it).

- Redis (default) and the embedded folder broker: one plain queue per stage, as before.
- RabbitMQ (`amqp://`): quorum queues, replicated with Raft and written to disk before the
  broker confirms a publish (the publisher confirms are in settings), so a confirmed
  message survives a broker crash; a consumer's connection that drops hands its
  unacknowledged messages back at once (no visibility timeout to wait out). Each queue has
  a topic exchange of its own: Celery's native delayed delivery (retries with a countdown)
  only reaches queues bound through a topic or fanout exchange, and with a direct one a
  worker would hold every delayed retry in memory, unacknowledged, until it is due. Celery
  detects the quorum queues (`worker_detect_quorum_queues`, on by default) and then uses
  per-consumer prefetch, since quorum queues refuse the global QoS it would otherwise set.
"""

from kombu import Exchange, Queue

# One queue per stage, so each scales on its own workers.
QUEUES = ("intake", "projections", "notifications", "reports", "maintenance")

AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")


def amqp_transport_options(*, socket_timeout: float) -> dict:
    """RabbitMQ's transport options (kombu hands them to py-amqp's Connection). Publisher
    confirms: a publish returns only once the broker has the message (on disk, in its quorum
    queue), and one it refuses (a nack) raises, so `direct` mode answers 202 only for a message
    the broker confirmed. One connection attempt per publish, as with Redis (settings.py): when
    the broker is down the request answers 503 at once. And a bound on every read and write of
    the connection: py-amqp has only a connect timeout, so a hung broker (one that accepts the
    TCP connection and answers nothing) held a request waiting for its handshake or confirm
    for ever."""
    return {
        "confirm_publish": True,
        "max_retries": 0,
        "read_timeout": socket_timeout,
        "write_timeout": socket_timeout,
    }


def is_amqp(broker_url: str) -> bool:
    return broker_url.startswith(AMQP_SCHEMES)


def task_queues(broker_url: str) -> list[Queue]:
    if not is_amqp(broker_url):
        return [Queue(name) for name in QUEUES]
    return [
        Queue(
            name,
            Exchange(name, type="topic", durable=True),
            routing_key=name,
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )
        for name in QUEUES
    ]
