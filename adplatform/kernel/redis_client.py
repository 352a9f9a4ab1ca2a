"""The Redis client of the features that talk to Redis directly (rate limits, pending
markers, queue depths, the velocity rule); one per process and URL. None on the embedded
default (no REDIS_URL)."""

import functools

import redis
from django.conf import settings


def redis_client() -> redis.Redis | None:
    return _client_for(settings.REDIS_URL) if settings.REDIS_URL else None


@functools.cache
def _client_for(url: str) -> redis.Redis:
    # The short timeouts of settings: these features sit on the request path or in consumers
    # and must fail fast, not hang.
    return redis.Redis.from_url(
        url, socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT, socket_timeout=settings.REDIS_SOCKET_TIMEOUT
    )
