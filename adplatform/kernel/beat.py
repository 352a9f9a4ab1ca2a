"""One active beat: Celery beat's own scheduler behind a lease in Redis.

Any number of `beat` processes may run (one per machine, say); the one that holds the lease
dispatches the schedule, the others wait as standbys and try for it on every tick. The
holder renews the lease every BEAT_LEASE_TTL / 3 seconds; a holder that dies (or loses Redis)
stops renewing, and a standby takes over once the lease has expired, within BEAT_LEASE_TTL
plus a tick. One that stops cleanly gives the lease up at once.

Why a Redis lease of our own rather than a PostgreSQL advisory lock or celery-redbeat: an
advisory lock lives in one database session, which PgBouncer in transaction mode does not
keep (and a session the pooler recycles would drop it silently); celery-redbeat replaces the
scheduler and its schedule store altogether (the schedule would move from settings into
Redis) and is not in our registry. The lease is one key, `SET NX PX` plus a compare-and-renew
script, around the scheduler we already run. Redis is the one every process already needs.

What it cannot do: a holder that stalls longer than the TTL (a frozen VM) and then resumes may
dispatch once alongside the new holder before its next renewal fails. Every periodic task is
idempotent (sweeps, reconciliation; the daily report is once per retailer and day), so that is
a duplicate run, never a duplicate effect. Without Redis (the embedded default) there is no
lease: run one beat.
"""

import logging
import uuid

from celery.beat import PersistentScheduler
from django.conf import settings

logger = logging.getLogger(__name__)

# Renew ours, or take a free one: 1 if we hold the lease afterwards.
_ACQUIRE_OR_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
if not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LeasedScheduler(PersistentScheduler):
    """Celery's persistent scheduler, dispatching only while this process holds the lease."""

    def __init__(self, *args, **kwargs):
        self.lease_token = f"{uuid.uuid4().hex}"
        self.is_leader = False
        super().__init__(*args, **kwargs)

    @property
    def _renew_every(self) -> float:
        return settings.BEAT_LEASE_TTL / 3

    def _hold_lease(self) -> bool:
        from .redis_client import redis_client

        try:
            held = bool(
                redis_client().eval(
                    _ACQUIRE_OR_RENEW,
                    1,
                    settings.BEAT_LEASE_KEY,
                    self.lease_token,
                    int(settings.BEAT_LEASE_TTL * 1000),
                )
            )
        except Exception as exc:  # Redis down: no lease can be proven, so dispatch nothing
            logger.warning("beat: cannot reach Redis for the lease (%s); not dispatching", exc)
            held = False
        if held != self.is_leader:
            logger.warning("beat: %s", "took the lease: dispatching" if held else "lost the lease: standing by")
            self.is_leader = held
        return held

    def tick(self, *args, **kwargs):
        if not self._hold_lease():
            return self._renew_every
        return min(super().tick(*args, **kwargs), self._renew_every)

    def close(self):
        super().close()
        if self.is_leader:  # a clean stop hands over at once
            from .redis_client import redis_client

            try:
                redis_client().eval(_RELEASE, 1, settings.BEAT_LEASE_KEY, self.lease_token)
            except Exception:
                logger.warning("beat: could not release the lease; it expires in %s s", settings.BEAT_LEASE_TTL)
