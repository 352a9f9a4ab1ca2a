"""A retailer never reads an ad older than a state the platform already told them about.

The replica lags the primary. Whenever the projection makes a state of an ad visible (the
answer of a sync request, the webhook deliveries it creates in the same transaction), it
remembers that version in Redis, after commit, so before any webhook for it can go out; a
by-id read that finds an older version on the replica reads the primary instead
(selectors.ad_get). Only with a replica configured: without one there is nothing to compare.
Best effort, like the pending markers: Redis down, the read falls back to the lag bound alone
(READ_REPLICA_MAX_LAG).
"""

import logging

from django.conf import settings

from adplatform.kernel.redis_client import redis_client

logger = logging.getLogger(__name__)

# Keep the larger version: two projections of one ad may finish out of order.
_SET_MAX = """
local stored = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > stored then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return 1
"""


def told_key(ad_id) -> str:
    return f"adp:told:{ad_id}"


def told_versions_record(*, versions: dict) -> None:
    """Remember {ad_id: version} as told to the retailer (no-op without a replica)."""
    client = redis_client()
    if not versions or client is None or "replica" not in settings.DATABASES:
        return
    try:
        pipe = client.pipeline(transaction=False)
        for ad_id, version in versions.items():
            pipe.eval(_SET_MAX, 1, told_key(ad_id), int(version), settings.READ_TOLD_VERSION_TTL)
        pipe.execute()
    except Exception:
        logger.warning("could not remember the told versions of %d ads", len(versions), exc_info=True)


def told_version(*, ad_id) -> int:
    """The newest version of the ad the retailer may have been told about (0: none known)."""
    client = redis_client()
    if client is None:
        return 0
    try:
        return int(client.get(told_key(ad_id)) or 0)
    except Exception:
        logger.warning("could not read the told version of %s", ad_id, exc_info=True)
        return 0
