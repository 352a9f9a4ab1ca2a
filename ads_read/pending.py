"""Read-your-writes for the asynchronous intake modes: the request path marks each accepted
ad as pending, so the read side can answer `pending` for it before the projection has written
its row (in `direct` mode the ad is not even stored yet).

With Redis the markers go straight to it, a whole batch in one script call (SET … EX per ad):
about a millisecond per 1,000 ads, where the cache API's set_many (a pickle and two commands
per key) took some 25 ms. Without Redis (EMBEDDED_REDIS off) they go to the Django cache.
"""

import logging

import msgspec
from django.conf import settings
from django.core.cache import cache

from adplatform.kernel.redis_client import execute_best_effort, redis_client
from adplatform.kernel.redis_client import pipeline as redis_pipeline

logger = logging.getLogger(__name__)


class PendingAd(dict):
    """An accepted ad without a read row yet, as a reader sees it: its id, status "pending",
    external_ref and submitted_at (ISO text), from its marker or from the write side's row."""


# KEYS: the markers' keys; ARGV[1]: their time to live (s), ARGV[2…]: their values.
_MARK_MANY = """
for i, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[i + 1], 'EX', ARGV[1])
end
return #KEYS
"""


# KEYS: the markers' keys; ARGV[1]: the linger (s). Shortens each marker's life to the linger,
# never lengthens it: what `EXPIRE … LT` does, which needs Redis 7.0 (the embedded Redis is 6.2).
# TTL is -1 for a key without expiry (LT treats it as infinite) and -2 for a missing key.
_SETTLE_MANY = """
local linger = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  local ttl = redis.call('TTL', key)
  if ttl == -1 or ttl > linger then
    redis.call('EXPIRE', key, linger)
  end
end
return #KEYS
"""


def pending_key(ad_id) -> str:
    return f"pending-ad:{ad_id}"


def pending_mark(*, events, pipe=None) -> None:
    """Best effort: if Redis or the cache is down the ad is still accepted; once stored it
    reads as pending from its row (ad_get), and in direct mode as 404 only until the
    consumer stores it. Given a Redis pipeline, only queues the writes on it
    (the caller sends it, with writes of its own, in one round trip)."""
    markers = {
        pending_key(e.ad_id): {
            "retailer_id": e.retailer_id,
            "submitted_at": e.data["submitted_at"],
            "external_ref": e.data.get("external_ref", ""),
        }
        for e in events
    }
    own = pipe is None
    if own:
        pipe = redis_pipeline()
    if pipe is None:
        try:
            cache.set_many(markers, timeout=settings.PENDING_MARKER_TTL)
        except Exception:
            logger.warning("could not mark %d ads pending", len(markers), exc_info=True)
        return
    if len(markers) == 1:  # single-ad intake: a plain SET is cheaper than a script call
        ((key, marker),) = markers.items()
        pipe.set(key, msgspec.json.encode(marker), ex=settings.PENDING_MARKER_TTL)
    else:
        values = [msgspec.json.encode(marker) for marker in markers.values()]
        pipe.eval(_MARK_MANY, len(markers), *markers, settings.PENDING_MARKER_TTL, *values)
    if own:
        execute_best_effort(pipe, what=f"mark {len(markers)} ads pending")


def pending_settle(*, ad_ids) -> None:
    """The read rows of these ads are written: their markers may go, after
    PENDING_MARKER_LINGER, so that a read that looked for the row an instant before it was
    written (ad_get reads the marker only when neither the replica nor the primary has the
    row) still finds the marker. This keeps Redis to the ads in flight, where
    PENDING_MARKER_TTL (the bound for an ad never projected) would keep every accepted ad.
    Best effort, like marking."""
    keys = [pending_key(ad_id) for ad_id in ad_ids]
    if not keys:
        return
    linger = settings.PENDING_MARKER_LINGER
    pipe = redis_pipeline()
    if pipe is None:
        try:
            for key in keys:
                cache.touch(key, timeout=linger)
        except Exception:
            logger.warning("could not settle the pending markers of %d ads", len(keys), exc_info=True)
        return
    pipe.eval(_SETTLE_MANY, len(keys), *keys, linger)
    execute_best_effort(pipe, what=f"settle the pending markers of {len(keys)} ads")


def pending_get(*, ad_id) -> dict | None:
    client = redis_client()
    try:
        if client is None:
            return cache.get(pending_key(ad_id))
        raw = client.get(pending_key(ad_id))
    except Exception:
        logger.warning("could not read the pending marker of %s", ad_id, exc_info=True)
        return None
    return msgspec.json.decode(raw) if raw else None


def pending_marked(*, batch: int = 1000):
    """The ids of the ads that have a marker, in lists of up to `batch` (Redis SCAN, which
    never holds the server up); nothing without Redis (the cache cannot be listed)."""
    client = redis_client()
    if client is None:
        return
    ids = []
    for key in client.scan_iter(match=pending_key("*"), count=batch):
        ids.append(key.decode().removeprefix(pending_key("")))
        if len(ids) >= batch:
            yield ids
            ids = []
    if ids:
        yield ids


def pending_forget(*, ad_ids) -> None:
    """Drop these ads' markers at once (a restore voided them: reconciliation)."""
    client = redis_client()
    if client is not None and ad_ids:
        client.delete(*[pending_key(ad_id) for ad_id in ad_ids])
