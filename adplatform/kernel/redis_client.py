"""The Redis client of the features that talk to Redis directly (rate limits, pending
markers, queue depths); one per process. None on the embedded default (no REDIS_URL)."""

import functools

import redis
from django.conf import settings

# Short timeouts: these features sit on the request path and must fail fast, not hang.
CONNECT_TIMEOUT = 2.0
SOCKET_TIMEOUT = 2.0


@functools.cache
def redis_client() -> redis.Redis | None:
    if not settings.REDIS_URL:
        return None
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT)
