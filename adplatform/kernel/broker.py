"""The Redis broker: kombu's transport with a reused client, and task messages pushed on a
pipeline of ours.

## The transport: a channel reuses its synchronous Redis client

Outside a worker's event loop (every publish: the request path, consumers publishing the
next stage), kombu builds a new `redis.Redis` object per publish (`Channel.conn_or_acquire`
→ `_create_client`), and redis-py's constructor fills a table of ~170 response callbacks each
time: measured here, 0.62 → 0.38 ms per single-ad publish once the client is reused. The
client only wraps the channel's connection pool, and redis-py clients are thread-safe, so one
per channel (and per pool, which kombu recreates after a connection error) is enough.

Selected in settings.py (CELERY_BROKER_TRANSPORT) when the broker is Redis.

## Task messages on a pipeline of ours
A single-ad request wrote to Redis three times: the rate limit, the broker's LPUSH of the
message (kombu), then the pending marker, velocity window and intake journal (one pipeline).
When the broker is the Redis of those features (REDIS_URL; the usual deployment), the
message can ride in that pipeline: `task_messages_push` queues the very list entry kombu
pushes — a Celery protocol 2 task message (Celery's `create_task_message`) in kombu's Redis
envelope, LPUSHed onto the queue Celery's router picks — without send_task's per-call
machinery (~0.4 ms a publish). The worker cannot tell the two apart; a test holds the entry
to the one kombu writes. With another broker (the embedded folder broker, or a
CELERY_BROKER_URL or CELERY_BROKER_WRITE_URL of its own) `broker_pipeline` is None and
callers publish through kombu.

## Leases: a dead worker's messages come back in seconds
kombu's Redis transport emulates acknowledgements: a delivered message is kept in the hash
`unacked` and its delivery time in the sorted set `unacked_index`; every worker's event loop
calls `QoS.restore_visible` every `unacked_restore_interval` seconds, which puts back on
their queue the messages delivered longer than `visibility_timeout` ago. Alone, that makes
the visibility timeout the longest anything may stay unacknowledged while alive (a task, a
retry held until due, a celery-batches buffer), so it was an hour, and a SIGKILLed worker's
messages waited that long.

So each worker renews a lease on what it holds: every `lease_renew_interval` seconds its
event loop re-scores its own delivered-but-unacknowledged tags (its channels' `QoS._delivered`:
prefetched, buffered, running in the pool, retries waiting for their time) to now, in one
`ZADD unacked_index XX` per channel. `XX` only updates members still there, so a tag that
was acknowledged (or restored) meanwhile is not brought back. A live worker's messages then
never look older than a renewal period, the visibility timeout only has to outlast a few
missed renewals (settings.py enforces it), and a dead worker's messages are put back by any
live worker within visibility timeout + restore interval of its last renewal.
This lives in the Redis transport, so another broker (RabbitMQ redelivers when the
consumer's connection drops) never runs it.

## Publishing
`publish_task` and `publish_tasks` are how every part of the platform hands messages to the
broker (intake, the outbox relay, consumers publishing the next stage, the sweeps and
replays): the pipeline above when it applies, else kombu's publish batch.
"""

import base64
import functools
import logging
import time
import uuid

import msgspec
from django.conf import settings
from kombu.exceptions import OperationalError
from kombu.transport import redis

from .redis_client import redis_client

logger = logging.getLogger(__name__)

# Celery's default for a queue declared as durable: the message survives a broker restart
# (with Redis persistence; README, "Redis persistence").
_PERSISTENT = 2


class Channel(redis.Channel):
    _sync_client = None

    def _create_client(self, asynchronous=False):
        if asynchronous:  # the event loop's own client (BRPOP and friends): kombu's as it is
            return super()._create_client(asynchronous=True)
        client = self._sync_client
        if client is None or client.connection_pool is not self.pool:
            client = self._sync_client = super()._create_client()
        return client


class Transport(redis.Transport):
    Channel = Channel

    def register_with_event_loop(self, connection, loop):
        super().register_with_event_loop(connection, loop)
        cycle = self.cycle
        # As kombu does for its own timers: a reconnect registers again, so drop the old one.
        previous = getattr(cycle, "_lease_renew_tref", None)
        if previous is not None:
            previous.cancel()
        interval = connection.client.transport_options.get("lease_renew_interval")
        if interval:
            cycle._lease_renew_tref = loop.call_repeatedly(interval, leases_renew, cycle)


def leases_renew(cycle) -> int:
    """Re-score this worker's unacknowledged delivery tags to now (module docstring, Leases);
    returns how many tags it renewed."""
    renewed = 0
    for channel in list(cycle._channels):
        qos = channel.qos
        # A snapshot: one C-level copy under the GIL, taken in the event loop's own thread.
        tags = [tag for tag in list(qos._delivered) if tag not in qos._dirty]
        if not tags:
            continue
        try:
            with channel.conn_or_acquire() as client:
                client.zadd(channel.unacked_index_key, dict.fromkeys(tags, time.time()), xx=True)
        except channel.connection_errors:
            # Redis is away: the worker reconnects on its own; until then nothing is restored
            # either (restoring needs Redis too). The next tick tries again.
            logger.warning("could not renew the leases of %d unacknowledged messages", len(tags), exc_info=True)
            continue
        renewed += len(tags)
    return renewed


def broker_pipeline():
    """A pipeline (no MULTI) on the Redis that Celery publishes to, when that is also
    REDIS_URL's, so that task messages and the features' writes go in one round trip; None
    otherwise."""
    from adplatform.celery import app

    if not settings.REDIS_URL or (app.conf.broker_write_url or app.conf.broker_url) != settings.REDIS_URL:
        return None
    return redis_client().pipeline(transaction=False)


def task_messages_push(*, pipe, task_name: str, payloads: list) -> int:
    """Queue on `pipe` one message of task `task_name` per payload (its one argument),
    serialized with the pipeline serializer. Returns how many commands it queued: the caller
    checks that many results first, as the messages' delivery."""
    queue = _queue_of(task_name)
    for payload in payloads:
        pipe.lpush(queue, _task_message(task_name=task_name, payload=payload, queue=queue))
    return len(payloads)


@functools.cache
def _queue_of(task_name: str) -> str:
    from adplatform.celery import app

    return app.amqp.router.route({}, task_name)["queue"].name


def _task_message(*, task_name: str, payload: list, queue: str) -> bytes:
    from adplatform.celery import PIPELINE_CONTENT_TYPE, app

    task_id = str(uuid.uuid4())
    headers, properties, body, _ = app.amqp.create_task_message(
        task_id,
        task_name,
        [payload],
        {},
        root_id=task_id,
        reply_to=app.thread_oid,
        # A short argsrepr: the default repr of a 100-ad payload costs more than sending it.
        argsrepr=f"[<{len(payload)} items>]",
        kwargsrepr="{}",
    )
    return msgspec.json.encode(
        {
            "body": base64.b64encode(msgspec.json.encode(body)).decode(),
            "content-encoding": "binary",
            "content-type": PIPELINE_CONTENT_TYPE,
            "headers": headers,
            "properties": {
                **properties,
                "delivery_mode": _PERSISTENT,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )


def publish_task(*, task_name: str, payload: list) -> None:
    """Hand one message to the broker; returns only once the broker has it, and raises
    within about REDIS_SOCKET_TIMEOUT when it cannot (one attempt: see celery.py)."""
    publish_tasks(task_name=task_name, payloads=[payload])


def publish_tasks(*, task_name: str, payloads: list[list]) -> None:
    """Hand messages to the broker in one round trip (one Redis pipeline); returns only once
    the broker has them all."""
    from adplatform.celery import app

    if not payloads:
        return
    pipe = broker_pipeline()
    if pipe is not None:
        task_messages_push(pipe=pipe, task_name=task_name, payloads=payloads)
        pipe.execute()
        return
    sent, reused = 0, False
    try:
        with app.producer_or_acquire() as producer, producer.batch():  # kombu's publish batch: one pipeline
            connection = producer.__connection__
            reused = connection is not None and connection.connected
            for payload in payloads:
                _send_task(producer, task_name=task_name, payload=payload)
                sent += 1
    except OperationalError as exc:
        if not (reused and sent == 0 and not _timed_out(exc)):
            raise
        # A pooled connection made before the broker restarted (or before anything else cut
        # it while it sat idle) fails its first use at once: py-amqp finds the reset before
        # it writes the message. kombu closes that one, but each other idle connection in the
        # pool would fail the same way, each a 503 while the broker is fine. So once more on
        # a new connection. Not after a timeout (a hung broker would double the wait), nor
        # once a message went out (the broker may have it), nor when connecting failed.
        logger.info("a pooled broker connection was dead (%s): publishing on a new one", exc)
        with app.connection_for_write() as fresh:
            producer = app.amqp.Producer(fresh, auto_declare=False)
            with producer.batch():
                for payload in payloads:
                    _send_task(producer, task_name=task_name, payload=payload)


def _send_task(producer, *, task_name: str, payload: list) -> None:
    from adplatform.celery import PIPELINE_SERIALIZER, app

    # A short argsrepr: Celery's default repr of a 100-ad payload costs more than sending it.
    app.send_task(
        task_name,
        args=[payload],
        producer=producer,
        retry=False,
        serializer=PIPELINE_SERIALIZER,
        argsrepr=f"[<{len(payload)} items>]",
    )


def _timed_out(exc: BaseException | None) -> bool:
    """Whether a timeout is anywhere in the chain (py-amqp re-raises a write timeout as a
    connection error)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, TimeoutError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
