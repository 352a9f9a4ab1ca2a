"""Per-retailer rate limits: a quota of `Retailer.rate_limit_per_minute` units (default
settings.RATE_LIMIT_PER_MINUTE), one unit per request, one per ad in a batch.

The limiter is GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp)
in a Lua script, so a check-and-take is atomic in Redis whatever the number of web
processes, and uses Redis's clock, not the web hosts'. A full quota can be spent at once;
it refills evenly over the minute. With RATE_LIMIT_ENABLED off there is no limit; when Redis
fails the limiter lets requests through (it protects the service and must not take it down),
and logs it.

Without Redis (`EMBEDDED_REDIS` off and no REDIS_URL: one host) the same GCRA runs over a file per
retailer in DATA_DIR/ratelimit, under an exclusive lock (flock): atomic across the web
processes of the host, so the quota, the 429s and the RateLimit headers a client meets in
development are the ones it meets in production. (A limiter in each process's memory would
have given every gunicorn worker a quota of its own, and headers that jump between them.)
"""

import fcntl
import functools
import logging
import math
import os
import time
from dataclasses import dataclass

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from adplatform.problems import problem

from .models import Retailer
from .redis_client import redis_client

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
_PERIOD_US = WINDOW_SECONDS * 1_000_000

# KEYS[1] holds the theoretical arrival time (TAT, µs): when the bucket would be full again.
# ARGV: limit, period (µs), cost. Returns allowed, remaining, reset (ms), retry after (ms).
_GCRA = """
local limit, period, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local interval = period / limit
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
local new_tat = tat + cost * interval
local allowed = new_tat - now <= period + 1
if allowed then
  tat = new_tat
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
end
local remaining = math.max(0, math.floor((period - (tat - now)) / interval + 1e-6))
local retry_after = 0
if not allowed then retry_after = new_tat - period - now end
return {allowed and 1 or 0, remaining, math.ceil((tat - now) / 1000), math.ceil(retry_after / 1000)}
"""


@dataclass(frozen=True)
class RateLimit:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the whole quota is back
    retry_after: int  # seconds until this request would be allowed; 0 when it was

    def headers(self) -> dict[str, str]:
        """The IETF draft's RateLimit header fields, sent on every limited answer."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
            "RateLimit-Policy": f"{self.limit};w={WINDOW_SECONDS}",
        }


def rate_limit_of(retailer: Retailer) -> int:
    return retailer.rate_limit_per_minute or settings.RATE_LIMIT_PER_MINUTE


def rate_limiting_on() -> bool:
    return settings.RATE_LIMIT_ENABLED


@functools.cache
def _gcra_script(client):
    # Per client, so per REDIS_URL (redis_client_for keeps one a URL): a script bound to the
    # first URL would count every retailer there after the setting changed.
    return client.register_script(_GCRA)  # sent once, then called by its SHA


def rate_limit_take(*, retailer: Retailer, cost: int = 1) -> RateLimit | None:
    """Take `cost` units of the retailer's quota if they are there. None when rate limiting
    is off or Redis failed."""
    if not rate_limiting_on():
        return None
    limit = rate_limit_of(retailer)
    try:
        client = redis_client()
        if client is None:
            allowed, remaining, reset_ms, retry_ms = _local_gcra(key=str(retailer.id), limit=limit, cost=cost)
        else:
            allowed, remaining, reset_ms, retry_ms = _gcra_script(client)(
                keys=[f"ratelimit:{retailer.id}"], args=[limit, _PERIOD_US, cost]
            )
    except Exception:
        logger.warning("rate limiter unavailable; letting the request through", exc_info=True)
        return None
    return RateLimit(
        allowed=bool(allowed),
        limit=limit,
        remaining=int(remaining),
        reset=math.ceil(reset_ms / 1000),
        retry_after=max(1, math.ceil(retry_ms / 1000)) if not allowed else 0,
    )


def _local_gcra(*, key: str, limit: int, cost: int) -> tuple[int, int, int, int]:
    """The Lua script's GCRA, for the embedded default: the theoretical arrival time (µs, the
    host's clock) in a file of its own, read and written under an exclusive flock, which
    every web process of the host waits on. Returns what the script returns."""
    folder = settings.DATA_DIR / "ratelimit"
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / key, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # released when the file is closed
        now = time.time_ns() // 1000
        stored = os.pread(descriptor, 32, 0).strip()
        interval = _PERIOD_US / limit
        tat = max(float(stored) if stored else now, now)
        new_tat = tat + cost * interval
        allowed = new_tat - now <= _PERIOD_US + 1
        if allowed:
            tat = new_tat
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{tat:.0f}".encode(), 0)
        remaining = max(0, math.floor((_PERIOD_US - (tat - now)) / interval + 1e-6))
        retry_after = 0 if allowed else new_tat - _PERIOD_US - now
        return int(allowed), remaining, math.ceil((tat - now) / 1000), math.ceil(retry_after / 1000)
    finally:
        os.close(descriptor)


class RetailerRateThrottle(BaseThrottle):
    """DRF throttle over `rate_limit_take`. A view may price a request with
    `rate_limit_cost(request) -> int` (the batch view: one unit per ad). The decision is kept
    on the request so that every answer carries the RateLimit headers (see middleware)."""

    def allow_request(self, request, view):
        caller = getattr(request, "caller", None)
        if caller is None or not rate_limiting_on():
            return True
        cost_of = getattr(view, "rate_limit_cost", None)
        cost = cost_of(request) if cost_of else 1
        limit = rate_limit_of(caller.retailer)
        if cost > limit:
            raise problem(
                "cost-exceeds-rate-limit",
                detail=f"This request costs {cost} units; your quota is {limit} per {WINDOW_SECONDS} s. Send smaller batches.",
            )
        self.decision = rate_limit_take(retailer=caller.retailer, cost=cost)
        if self.decision is None:
            return True
        request._request.rate_limit = self.decision
        return self.decision.allowed

    def wait(self):
        return self.decision.retry_after
