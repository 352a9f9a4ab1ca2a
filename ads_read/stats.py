"""Statistics kept by the projection as it writes ad rows: per-retailer daily counts
(DESIGN.md §6) and the consistency lag metric.

Daily counts are recounted, not incremented: for each (retailer, UTC day) pair the projection
touched, one `INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE` rewrites the counts from
the read table itself, in the projection's transaction. That is idempotent by construction:
duplicated or reordered projections leave the right numbers.
"""

import hashlib
import operator
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone
from functools import reduce

from django.db import connection
from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from adplatform.kernel.metrics import CONSISTENCY_LAG

from .models import AdView, RetailerDailyStats

PENDING = "pending"


def _day_of(moment: datetime):
    return moment.astimezone(dt_timezone.utc).date()


def _lock_pairs(pairs: list) -> None:
    # Two projections recounting one pair at once would each count without the other's rows,
    # and the later upsert would win with a stale count: take the pairs in order, until commit.
    # SQLite needs nothing: its IMMEDIATE transactions admit one writer at a time.
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for retailer_id, day in pairs:
            digest = hashlib.blake2b(f"daily-stats:{retailer_id}:{day}".encode(), digest_size=8).digest()
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


def daily_stats_refresh(*, rows: list[AdView]) -> None:
    """Recount the daily stats of the (retailer, day) pairs of these ads. Call inside the
    projection's transaction, after its upsert."""
    pairs = sorted({(row.retailer_id, _day_of(row.submitted_at)) for row in rows})
    if not pairs:
        return
    _lock_pairs(pairs)
    # A status that no ad of the day has any more (all pending ads were judged) drops to 0.
    RetailerDailyStats.objects.filter(_any_of(Q(retailer_id=r, day=d) for r, d in pairs)).update(count=0)
    submitted = _any_of(
        Q(retailer_id=r, submitted_at__gte=start, submitted_at__lt=start + timedelta(days=1))
        for r, start in ((r, datetime.combine(d, time.min, tzinfo=dt_timezone.utc)) for r, d in pairs)
    )
    counts = (
        AdView.objects.using("default")
        .filter(submitted)
        .values(stat_retailer=F("retailer_id"), stat_day=TruncDate("submitted_at", tzinfo=dt_timezone.utc), stat_status=F("status"))
        .annotate(stat_count=Count("id"))
        .order_by()
    )
    select, params = counts.query.get_compiler("default").as_sql()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in ("retailer_id", "day", "status", "count"))
    unique = ", ".join(quote(name) for name in ("retailer_id", "day", "status"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(RetailerDailyStats._meta.db_table)} ({columns}) {select} "
            f"ON CONFLICT ({unique}) DO UPDATE SET {quote('count')} = EXCLUDED.{quote('count')}",
            params,
        )


def _any_of(conditions) -> Q:
    return reduce(operator.or_, conditions)


def final_on_read_side(*, ids: list) -> set:
    """The ads among `ids` whose read row already shows a final state."""
    return set(AdView.objects.using("default").filter(id__in=ids).exclude(status=PENDING).values_list("id", flat=True))


def consistency_lag_observe(*, rows: list[AdView], already_final: set) -> None:
    """Observe acceptance → final state on the read side, for the ads that reached their
    first final state in this projection. Call after commit."""
    now = timezone.now()
    for row in rows:
        if row.status != PENDING and row.id not in already_final:
            CONSISTENCY_LAG.observe((now - row.submitted_at).total_seconds())
