"""The direct-mode intake journal: the backstop for a message the broker lost.

In `direct` mode the request path publishes an ad before anything stores it, so the broker
holds its only copy. Kombu's Redis transport takes a message in two steps (BRPOP from the
queue, then a write to its unacknowledged set): a worker killed between the two loses the
message, and with it the ad (DESIGN.md §3: direct mode must not lose an accepted ad).

So once the broker has the messages, the request path also journals each accepted event in
Redis (a sorted set of ad ids by acceptance time, and a hash of their events); the consumer
clears an ad's entry once the ad is stored in PostgreSQL, where reconciliation of pending ads
takes over; and `intake_journal_replay` (beat) re-publishes the entries older than
RECONCILE_PENDING_AFTER whose ad was never stored. A replay is a redelivery, which the
idempotent consumer absorbs.

It keeps an ad only while it is in flight (milliseconds to seconds), so it costs little
memory. It survives what the queue survives: a worker crash, not a Redis crash without
persistence (README, "Redis persistence"). Without Redis (EMBEDDED_REDIS off) there is no journal.
"""

import logging
import time

import msgspec

from adplatform.kernel.events import Event
from adplatform.kernel.redis_client import execute_best_effort, redis_client
from adplatform.kernel.redis_client import pipeline as redis_pipeline

logger = logging.getLogger(__name__)

INDEX_KEY = "intake-journal:index"  # sorted set: ad id -> time accepted (or last replayed)
EVENTS_KEY = "intake-journal:events"  # hash: ad id -> the intake event (JSON)


def intake_journal_record(*, events: list[Event], pipe) -> None:
    """Journal accepted events (after the broker took them): queue the writes on `pipe`, a
    Redis pipeline the caller sends with the pending markers (None without Redis, which has no
    journal). Best effort: the broker has the messages, so a failed send only
    narrows the backstop."""
    if pipe is None or not events:
        return
    now = time.time()
    pipe.zadd(INDEX_KEY, {e.ad_id: now for e in events})
    pipe.hset(EVENTS_KEY, mapping={e.ad_id: msgspec.json.encode(e.to_dict()) for e in events})


def intake_journal_clear(*, ad_ids: list) -> None:
    """Forget ads that are stored (PostgreSQL has them now). Best effort: an entry left
    behind is cleared by the next replay, which finds its ad stored."""
    pipe = redis_pipeline()
    if pipe is None or not ad_ids:
        return
    keys = [str(ad_id) for ad_id in ad_ids]
    pipe.zrem(INDEX_KEY, *keys)
    pipe.hdel(EVENTS_KEY, *keys)
    execute_best_effort(pipe, what=f"clear {len(keys)} ads from the intake journal")


def intake_journal_stale(*, older_than_seconds: int, limit: int) -> list[Event]:
    """The journaled events accepted (or last replayed) over `older_than_seconds` ago,
    oldest first, at most `limit`. Entries whose event is gone are dropped."""
    client = redis_client()
    if client is None:
        return []
    ids = [i.decode() for i in client.zrangebyscore(INDEX_KEY, "-inf", time.time() - older_than_seconds, 0, limit)]
    if not ids:
        return []
    raw = client.hmget(EVENTS_KEY, ids)
    orphans = [ad_id for ad_id, value in zip(ids, raw, strict=True) if value is None]
    if orphans:
        client.zrem(INDEX_KEY, *orphans)
    return [Event.from_dict(msgspec.json.decode(value)) for value in raw if value is not None]


def intake_journal_touch(*, ad_ids: list) -> None:
    """Restart the clock of replayed entries, so each is replayed at most once per threshold."""
    client = redis_client()
    if client is not None and ad_ids:
        client.zadd(INDEX_KEY, {str(ad_id): time.time() for ad_id in ad_ids}, xx=True)


def intake_journal_holding(*, ad_ids: list) -> set[str]:
    """Those of `ad_ids` that have an entry in the journal (none without Redis)."""
    client = redis_client()
    if client is None or not ad_ids:
        return set()
    keys = [str(ad_id) for ad_id in ad_ids]
    return {key for key, score in zip(keys, client.zmscore(INDEX_KEY, keys), strict=True) if score is not None}
