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

Direct-mode commands (pause, resume, withdraw, change: services/commands.py) are published
first too, so they have a journal of their own, keyed by ad id as well (an ad has at most one
command in flight: its lock, and the request path holds the ad busy while its command is
journaled). The request path journals a command before it publishes it (a consumer that
clears it first would leave the entry behind, and the ad busy); the consumer clears it once
the command is stored or refused, and `commands_journal_replay` re-publishes those older
than RECONCILE_PENDING_AFTER that have no audit entry (never stored).
"""

import logging
import time
from dataclasses import dataclass

import msgspec

from adplatform.kernel.events import Event
from adplatform.kernel.redis_client import execute_best_effort, redis_client
from adplatform.kernel.redis_client import pipeline as redis_pipeline

logger = logging.getLogger(__name__)

INDEX_KEY = "intake-journal:index"  # sorted set: ad id -> time accepted (or last replayed)
EVENTS_KEY = "intake-journal:events"  # hash: ad id -> the intake event (JSON)
COMMANDS_INDEX_KEY = "command-journal:index"  # the same, for direct-mode commands
COMMANDS_EVENTS_KEY = "command-journal:events"
# Forgets an ad's entry only if it still holds this event (a replayed command stored late
# must not clear the ad's next one).
_CLEAR_IF_SAME = """
for i = 1, #ARGV, 2 do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  if value and string.find(value, ARGV[i + 1], 1, true) then
    redis.call('HDEL', KEYS[1], ARGV[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
  end
end
return 0
"""


@dataclass(frozen=True)
class Journal:
    """Events in flight by ad id: a sorted set by time accepted and a hash of the events."""

    index_key: str
    events_key: str
    what: str

    def record(self, *, events: list[Event], pipe) -> None:
        """Queue the writes on `pipe` (None without Redis: no journal); the caller sends it."""
        if pipe is None or not events:
            return
        now = time.time()
        pipe.zadd(self.index_key, {e.ad_id: now for e in events})
        pipe.hset(self.events_key, mapping={e.ad_id: msgspec.json.encode(e.to_dict()) for e in events})

    def clear(self, *, ad_ids: list) -> None:
        """Forget these ads' entries. Best effort: one left behind is cleared by the next replay."""
        pipe = redis_pipeline()
        if pipe is None or not ad_ids:
            return
        keys = [str(ad_id) for ad_id in ad_ids]
        pipe.zrem(self.index_key, *keys)
        pipe.hdel(self.events_key, *keys)
        execute_best_effort(pipe, what=f"clear {len(keys)} ads from the {self.what}")

    def clear_events(self, *, events: list[Event]) -> None:
        """Forget the entries that still hold these events. Best effort, as `clear`."""
        client = redis_client()
        if client is None or not events:
            return
        try:
            pairs = [value for e in events for value in (e.ad_id, e.event_id)]
            client.eval(_CLEAR_IF_SAME, 2, self.events_key, self.index_key, *pairs)
        except Exception:
            logger.warning("could not clear %d events from the %s", len(events), self.what, exc_info=True)

    def stale(self, *, older_than_seconds: int, limit: int) -> list[Event]:
        """The events accepted (or last replayed) over `older_than_seconds` ago, oldest first,
        at most `limit`. Entries whose event is gone are dropped."""
        client = redis_client()
        if client is None:
            return []
        cutoff = time.time() - older_than_seconds
        ids = [i.decode() for i in client.zrangebyscore(self.index_key, "-inf", cutoff, 0, limit)]
        if not ids:
            return []
        raw = client.hmget(self.events_key, ids)
        orphans = [ad_id for ad_id, value in zip(ids, raw, strict=True) if value is None]
        if orphans:
            client.zrem(self.index_key, *orphans)
        return [Event.from_dict(msgspec.json.decode(value)) for value in raw if value is not None]

    def touch(self, *, ad_ids: list) -> None:
        """Restart the clock of replayed entries, so each is replayed at most once per threshold."""
        client = redis_client()
        if client is not None and ad_ids:
            client.zadd(self.index_key, {str(ad_id): time.time() for ad_id in ad_ids}, xx=True)

    def holding(self, *, ad_ids: list) -> set[str]:
        """Those of `ad_ids` that have an entry (none without Redis)."""
        client = redis_client()
        if client is None or not ad_ids:
            return set()
        keys = [str(ad_id) for ad_id in ad_ids]
        return {key for key, score in zip(keys, client.zmscore(self.index_key, keys), strict=True) if score is not None}


INTAKE_JOURNAL = Journal(INDEX_KEY, EVENTS_KEY, "intake journal")
COMMANDS_JOURNAL = Journal(COMMANDS_INDEX_KEY, COMMANDS_EVENTS_KEY, "command journal")


# The intake journal's functions, as intake, the consumers and reconciliation call them.
intake_journal_record = INTAKE_JOURNAL.record  # after the broker took the events; best effort
intake_journal_clear = INTAKE_JOURNAL.clear  # the ads are stored (PostgreSQL has them now)
intake_journal_stale = INTAKE_JOURNAL.stale
intake_journal_touch = INTAKE_JOURNAL.touch
intake_journal_holding = INTAKE_JOURNAL.holding
