"""Read-your-writes for the asynchronous intake modes: the request path marks each accepted
ad as pending in the cache, so the read side can answer `pending` for it before the
projection has written its row (in `direct` mode the ad is not even stored yet)."""

import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def _key(ad_id) -> str:
    return f"pending-ad:{ad_id}"


def pending_mark(*, events) -> None:
    """Best effort: if the cache is down the ad is still accepted; it reads as 404 only
    until its projection lands."""
    try:
        cache.set_many(
            {
                _key(e.ad_id): {
                    "retailer_id": e.retailer_id,
                    "submitted_at": e.data["submitted_at"],
                    "external_ref": e.data.get("external_ref", ""),
                }
                for e in events
            },
            timeout=settings.PENDING_MARKER_TTL,
        )
    except Exception:
        logger.warning("could not mark %d ads pending in the cache", len(events), exc_info=True)


def pending_get(*, ad_id) -> dict | None:
    try:
        return cache.get(_key(ad_id))
    except Exception:
        logger.warning("could not read the pending marker of %s", ad_id, exc_info=True)
        return None
