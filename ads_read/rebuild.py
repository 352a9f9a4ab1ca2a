"""Rebuilding the read table from the write side (`manage.py rebuild_read_model`): after a
projection change, a new read field, a restored backup or a replica that drifted.

It re-projects the ads in batches through the projection itself (`ads_project`, the read
table's only writer), in id order with keyset pagination, so each batch is one index range
whatever the table's size. `reapply=True` lets a row be rewritten at the version it already
has (otherwise a rebuild would change nothing); the version guard still refuses a row older
than the stored one, so intake and staff decisions may run meanwhile: whichever of the
rebuild and a live projection writes last, the newer version stays.

Resumable: after each batch the last id done is kept in the cache (Redis in production)
under a key of the run's scope; a run killed halfway starts after it (`restart` starts over).
Audited: one entry when a run starts and one when it ends, with the counts. A finished run
also deletes the scope's read rows whose ad the write side does not have (a restore to an
earlier point: docs/restore.md) and counts the daily stats of its scope again from the read
table (stats.daily_stats_recount)."""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.cache import cache
from django.db import transaction

from adplatform.kernel.ids import new_id
from ads_write.models import Ad
from audit.services import AuditRecord, audit_record_many

from .projections import ad_views_orphaned_delete, ads_project
from .stats import daily_stats_recount

REBUILD_ACTOR = "system:rebuild"
CHECKPOINT_PREFIX = "read-model-rebuild:"


@dataclass(frozen=True)
class RebuildResult:
    projected: int  # ads re-projected by this run
    batches: int
    total: int  # ads in the scope
    resumed_after: str | None  # the checkpoint this run started after
    finished: bool  # False: stopped after max_batches; the checkpoint is kept
    deleted: int = 0  # read rows of ads the write side does not have, deleted (finished runs)


def rebuild_checkpoint_key(*, retailer_id=None, since: datetime | None = None) -> str:
    """Runs of different scopes keep different checkpoints."""
    return f"{CHECKPOINT_PREFIX}{retailer_id or 'all'}:{since.isoformat() if since else 'all'}"


def read_model_rebuild(
    *,
    retailer_id: uuid.UUID | None = None,
    since: datetime | None = None,
    batch_size: int = 1000,
    restart: bool = False,
    max_batches: int | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> RebuildResult:
    """Re-project every ad of the scope (a retailer's; those submitted since a moment),
    resuming after the checkpoint of an earlier run of the same scope unless `restart`.
    `on_start(total, done_before)` and `on_batch(count)` report progress."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    key = rebuild_checkpoint_key(retailer_id=retailer_id, since=since)
    if restart:
        cache.delete(key)
    last = cache.get(key)
    scope = Ad.objects.all()
    if retailer_id is not None:
        scope = scope.filter(retailer_id=retailer_id)
    if since is not None:
        scope = scope.filter(submitted_at__gte=since)
    total = scope.count()
    done_before = scope.filter(id__lte=last).count() if last else 0
    scope_data = {
        "retailer_id": str(retailer_id) if retailer_id else None,
        "since": since.isoformat() if since else None,
        "batch_size": batch_size,
    }
    _audit(action="read_model.rebuild_started", data={**scope_data, "ads": total, "resumed_after": last})
    if on_start:
        on_start(total, done_before)

    started, projected, batches, finished = time.monotonic(), 0, 0, True
    after = last
    while True:
        page = scope.filter(id__gt=after) if after else scope
        ids = list(page.order_by("id").values_list("id", flat=True)[:batch_size])
        if not ids:
            break
        ads_project(ad_ids=ids, reapply=True)
        after = str(ids[-1])
        cache.set(key, after, timeout=None)
        projected += len(ids)
        batches += 1
        if on_batch:
            on_batch(len(ids))
        if max_batches is not None and batches >= max_batches:
            finished = False
            break
    stats_rows, deleted = None, 0
    if finished:
        deleted = ad_views_orphaned_delete(retailer_id=retailer_id, since=since)
        # The daily counts move with the rows a projection applies; rows that had gone missing
        # while their counts stayed would be counted twice: count the scope's days again.
        stats_rows = daily_stats_recount(
            retailer_id=retailer_id, since_day=since.astimezone(UTC).date() if since else None
        )
        cache.delete(key)
    seconds = time.monotonic() - started
    _audit(
        action="read_model.rebuild_finished" if finished else "read_model.rebuild_stopped",
        data={
            **scope_data,
            "ads": total,
            "projected": projected,
            "batches": batches,
            "resumed_after": last,
            "last_id": after,
            "daily_stats_rows": stats_rows,
            "orphaned_rows_deleted": deleted,
            "seconds": round(seconds, 3),
        },
    )
    return RebuildResult(
        projected=projected, batches=batches, total=total, resumed_after=last, finished=finished, deleted=deleted
    )


def _audit(*, action: str, data: dict) -> None:
    """One entry, in a transaction of its own (the run changes the read table in many)."""
    with transaction.atomic():
        audit_record_many(records=[AuditRecord(event_id=new_id(), action=action, actor=REBUILD_ACTOR, data=data)])
