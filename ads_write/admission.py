"""Admission control: when the consumers fall behind past a bound, intake is shed (503
`intake-overloaded` with Retry-After) instead of growing a backlog without end (DESIGN.md §11).

The signal is how long the oldest intake message not yet judged has waited. Its events carry
`occurred_at`, the time the request path accepted them, so its age is how far behind the
consumers are, whatever the mode (direct, or cqrs through the outbox). It is the older of
- the tail of the `intake` list on Redis (kombu LPUSHes and BRPOPs, so the tail is the next to
  go), and
- the oldest message a worker holds: the batching consumer prefetches WORKER_PREFETCH messages
  per process, which leave the list at once (1,600 on the Procfile's worker, seconds of
  backlog behind an external validator), so each worker reports the oldest it holds into the
  hash `intake:held` every quarter second (`held_report`, from kernel/task_base.py); a report
  older than HELD_REPORT_FRESH seconds is of a worker gone, whose messages the broker restores.
One pipelined read per process at most every INTAKE_LAG_SAMPLE_SECONDS, shared by the
process's threads: the request path pays nothing else.

Past the bound every request is shed; from SHED_FROM of it on, a share that grows with the lag
(drawn per request), so intake eases down as the backlog nears the bound. Shedding all or
nothing swung the load: each web process learns of the lag up to a sample and a report late,
the backlog overshot the bound by seconds, and every request was then shed until the consumers
had caught up (at 864 ms, direct mode: 5 s windows accepting 0 to 2,700 ads).

An ad already accepted is never affected: shedding refuses new ones only, before anything is
published. Without a Redis broker (the folder broker, or another), or when the broker cannot be
read, nothing is shed (a broker that is down answers 503 `broker-unavailable` on its own).
"""

import base64
import logging
import math
import os
import random
import socket
import threading
import time
from datetime import UTC, datetime

import msgspec
from django.conf import settings

from adplatform.kernel.broker import _queue_of
from adplatform.kernel.metrics import INTAKE_SHED_ADS
from adplatform.kernel.redis_client import redis_client_for
from adplatform.problems import problem

from .services.events import PROCESS_SUBMISSIONS_TASK

logger = logging.getLogger(__name__)

HELD_KEY = "intake:held"  # {worker: "<oldest held accepted_at or -> <reported at>"}, epoch seconds
HELD_REPORT_FRESH = 5.0  # a worker reports every quarter second: older, it has gone
HELD_REPORT_FORGET = 3600.0  # a gone worker's field is deleted (by a live worker) after this
SHED_FROM = 0.6  # of INTAKE_MAX_LAG: where shedding starts, with a share rising to all at the bound

_sampling = threading.Lock()
_last = {"at": -math.inf, "lag": None}


def intake_lag_seconds() -> float | None:
    """Seconds the oldest waiting intake message has waited (0 when none waits); None when it
    cannot be known. Sampled at most every INTAKE_LAG_SAMPLE_SECONDS per process; a thread
    that finds another sampling uses the last value."""
    if time.monotonic() - _last["at"] < settings.INTAKE_LAG_SAMPLE_SECONDS or not _sampling.acquire(blocking=False):
        return _last["lag"]
    try:
        _last["lag"] = _oldest_waiting_age()
        _last["at"] = time.monotonic()
        return _last["lag"]
    finally:
        _sampling.release()


def intake_lag_forget() -> None:
    """Drop the sampled lag: the next request samples anew (tests)."""
    _last.update(at=-math.inf, lag=None)


def shed_share(lag: float | None) -> float:
    """The share of new intake refused at this lag: none up to SHED_FROM of INTAKE_MAX_LAG,
    rising linearly to all at the bound (0: never shed)."""
    bound = settings.INTAKE_MAX_LAG
    if not bound or lag is None:
        return 0.0
    if lag > bound:
        return 1.0
    start = SHED_FROM * bound
    return 0.0 if lag <= start else (lag - start) / (bound - start)


def intake_admit(*, mode: str, ads: int) -> None:
    """Raise the 503 `intake-overloaded` problem for the share of requests `shed_share` gives
    at the oldest waiting intake message's age: all of them past INTAKE_MAX_LAG (0: never).
    Only for the asynchronous modes: sync has no queue."""
    if mode == "sync" or not settings.INTAKE_MAX_LAG:
        return
    lag = intake_lag_seconds()
    if random.random() >= shed_share(lag):  # random() < 1: a share of 1 sheds all, 0 none
        return
    INTAKE_SHED_ADS.labels(mode).inc(ads)
    raise problem(
        "intake-overloaded",
        detail=f"The oldest waiting ad has waited {lag:.1f} s: from {SHED_FROM * settings.INTAKE_MAX_LAG:g} s on "
        f"a share of intake is refused, past {settings.INTAKE_MAX_LAG:g} s all of it. Nothing was accepted; "
        "retry after the time in Retry-After.",
        headers={"Retry-After": str(settings.INTAKE_OVERLOADED_RETRY_AFTER)},
    )


def _broker_redis(*, write: bool = False):
    from adplatform.celery import app

    url = (None if write else app.conf.broker_read_url) or app.conf.broker_url or ""
    if not url.startswith(("redis://", "rediss://")):
        return None
    return redis_client_for(url)


def _oldest_waiting_age() -> float | None:
    client = _broker_redis()
    if client is None:
        return None
    try:
        pipe = client.pipeline(transaction=False)
        pipe.lindex(_queue_of(PROCESS_SUBMISSIONS_TASK), -1)
        pipe.hgetall(HELD_KEY)
        raw, held = pipe.execute()
    except Exception:
        logger.warning("could not read the oldest waiting intake message", exc_info=True)
        return None
    now = time.time()
    oldest = _oldest_held(held, now=now)
    if raw is not None:
        try:
            accepted_at = _accepted_at(raw)
        except Exception:  # not an intake message we can read: the consumer dead-letters it
            logger.debug("could not read the time of the oldest waiting intake message", exc_info=True)
            return None
        oldest = accepted_at if oldest is None else min(oldest, accepted_at)
    return 0.0 if oldest is None else max(0.0, now - oldest)


def _report_read(report) -> tuple[float | None, float] | None:
    """(the oldest held ad's acceptance or None, when it was reported) of a worker's field of
    HELD_KEY; None if it cannot be read."""
    try:
        accepted_text, reported_text = (report.decode() if isinstance(report, bytes) else report).split()
        return (None if accepted_text == "-" else float(accepted_text)), float(reported_text)
    except ValueError:
        return None


def _oldest_held(held: dict, *, now: float) -> float | None:
    """The oldest acceptance time the live workers report holding."""
    live = [read for read in map(_report_read, held.values()) if read and now - read[1] <= HELD_REPORT_FRESH]
    return min((accepted_at for accepted_at, _ in live if accepted_at is not None), default=None)


_pruned_at = {"at": 0.0}


def held_report(oldest: float | None) -> None:
    """The batching intake consumer's report (kernel/task_base.py, in the worker's main
    process): the acceptance time of the oldest intake message this worker holds, or None.
    Once an hour it also deletes the fields of workers gone that long (a killed worker never
    removes its own): the web only reads the hash, and it stays small."""
    client = _broker_redis(write=True)
    if client is None:
        return
    now = time.time()
    value = f"{'-' if oldest is None else f'{oldest:.3f}'} {now:.3f}"
    client.hset(HELD_KEY, f"{socket.gethostname()}:{os.getpid()}", value)
    if now - _pruned_at["at"] < HELD_REPORT_FORGET:
        return
    _pruned_at["at"] = now
    gone = [
        worker
        for worker, report in client.hgetall(HELD_KEY).items()
        if (read := _report_read(report)) is None or now - read[1] > HELD_REPORT_FORGET
    ]
    if gone:
        client.hdel(HELD_KEY, *gone)


def request_accepted_at(request) -> float | None:
    """When a buffered intake request (its first event) was accepted, or None if unreadable."""
    try:
        return _event_accepted_at(request.args[0][0])
    except Exception:
        return None


def _accepted_at(raw: bytes) -> float:
    """When the first event of a queued intake message (kombu's Redis envelope around a
    Celery protocol 2 body: args, kwargs, embed) was accepted."""
    envelope = msgspec.json.decode(raw)
    body = envelope["body"]
    if envelope.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    (payload, *_), _kwargs, _embed = msgspec.json.decode(body)
    return _event_accepted_at(payload[0])


def _event_accepted_at(event: dict) -> float:
    occurred_at = datetime.fromisoformat(event["occurred_at"])
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return occurred_at.timestamp()
