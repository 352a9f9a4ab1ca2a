"""The Redis client of the features that talk to Redis directly (rate limits, pending
markers, queue depths, the velocity rule); one per process and URL. None without Redis
(EMBEDDED_REDIS off and no REDIS_URL)."""

import functools
import logging

import redis
from django.conf import settings

logger = logging.getLogger(__name__)


def redis_client() -> redis.Redis | None:
    return redis_client_for(settings.REDIS_URL) if settings.REDIS_URL else None


@functools.cache
def redis_client_for(url: str) -> redis.Redis:
    # The short timeouts of settings: these features sit on the request path or in consumers
    # and must fail fast, not hang.
    return redis.Redis.from_url(
        url, socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT, socket_timeout=settings.REDIS_SOCKET_TIMEOUT
    )


def pipeline() -> redis.client.Pipeline | None:
    """A pipeline (no MULTI) on the shared client, for writes of several features sent in one
    round trip; None without Redis."""
    client = redis_client()
    return client.pipeline(transaction=False) if client is not None else None


def execute_best_effort(pipe, *, what: str) -> None:
    """Send a pipeline of writes the caller can do without (markers, journals): a failure is
    logged, not raised."""
    try:
        pipe.execute()
    except Exception:
        logger.warning("could not %s", what, exc_info=True)
