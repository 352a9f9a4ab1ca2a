"""Queries the write side answers for its own maintenance; commands stay in services.py."""

import uuid
from datetime import datetime

from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce

from ads_read.models import AdView

from .models import Ad


def ads_behind_read_model(*, changed_from: datetime, changed_before: datetime, limit: int) -> list[uuid.UUID]:
    """Ids of ads submitted, reviewed or decided in [changed_from, changed_before) whose read
    row is missing or holds an older version (their projection message was lost), those
    whose last change is oldest first, at most `limit`.

    Each time column has an index, so the window is three index ranges (a BitmapOr on
    PostgreSQL) and each ad in it costs one primary-key probe of the read table. The order
    matters to the plan too: no index gives it, so PostgreSQL cannot hope to meet the LIMIT
    early in a sequential scan (without it, it chose one at a million ads). The read table
    is read on the primary, with the outer query, so replica lag is never taken for a loss."""
    in_window = (
        Q(submitted_at__gte=changed_from, submitted_at__lt=changed_before)
        | Q(reviewed_at__gte=changed_from, reviewed_at__lt=changed_before)
        | Q(decided_at__gte=changed_from, decided_at__lt=changed_before)
    )
    current = AdView.objects.filter(id=OuterRef("id"), version__gte=OuterRef("version"))
    # Version 1 is an ad not judged yet: it has no read row to project (pending reads come
    # from the marker), and reconciliation of pending ads looks after it.
    last_change = Coalesce("decided_at", "reviewed_at", "submitted_at")
    return list(
        Ad.objects.filter(in_window, version__gt=1)
        .filter(~Exists(current))
        .order_by(last_change)
        .values_list("id", flat=True)[:limit]
    )
