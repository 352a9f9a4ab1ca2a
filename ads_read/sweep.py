"""The read-model sweep: the read side repairs itself. Ads whose read row is missing or older
than the write side's (their projection message was lost: a worker SIGKILLed as it popped
it) are published to the projection again, which stays the read table's only writer. A
retailer's command (pause, resume, withdraw, change, appeal) is a version too: found by the time
it was stored (`Ad.command_at`), as verdicts and decisions are by theirs."""

import logging
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from adplatform.kernel.broker import publish_tasks
from adplatform.kernel.bulk import chunked
from adplatform.kernel.events import PROJECT_ADS_TASK, PROJECTION_MESSAGE_SIZE
from adplatform.kernel.ids import new_id
from adplatform.kernel.metrics import READ_MODEL_RECONCILED_ADS
from ads_write.models import Ad
from audit.services import AuditRecord, audit_record_many

from .models import AdView

logger = logging.getLogger(__name__)

SWEEP_ACTOR = "system:reconciler"


def ads_behind_read_model(*, changed_from: datetime, changed_before: datetime, limit: int) -> list[uuid.UUID]:
    """Ids of ads submitted, reviewed, decided or commanded (changed, paused, resumed,
    withdrawn by the retailer) in [changed_from, changed_before) whose read row is missing or
    holds an older version (their projection message was lost), those whose last change is
    oldest first, at most `limit`.

    Each time column has an index, so the window is four index ranges (a BitmapOr on
    PostgreSQL) and each ad in it costs one primary-key probe of the read table. The order
    matters to the plan too: no index gives it, so PostgreSQL cannot hope to meet the LIMIT
    early in a sequential scan (without it, it chose one at a million ads). The read table
    is read on the primary, with the outer query, so replica lag is never taken for a loss."""
    in_window = (
        Q(submitted_at__gte=changed_from, submitted_at__lt=changed_before)
        | Q(reviewed_at__gte=changed_from, reviewed_at__lt=changed_before)
        | Q(decided_at__gte=changed_from, decided_at__lt=changed_before)
        | Q(command_at__gte=changed_from, command_at__lt=changed_before)
    )
    current = AdView.objects.filter(id=OuterRef("id"), version__gte=OuterRef("version"))
    # Version 1 is an ad not judged yet: it has no read row to project (pending reads come
    # from the marker), and reconciliation of pending ads looks after it.
    last_change = Coalesce("command_at", "decided_at", "reviewed_at", "submitted_at")
    return list(
        Ad.objects.filter(in_window, version__gt=1)
        .filter(~Exists(current))
        .order_by(last_change)
        .values_list("id", flat=True)[:limit]
    )


def read_model_reconcile(*, lookback_seconds: int, grace_seconds: int, limit: int) -> int:
    """Publish the projection again for ads changed between `lookback_seconds` and
    `grace_seconds` ago whose read row is missing or older (the message was lost: a worker
    SIGKILLed as it popped it), at most `limit`, in messages of PROJECTION_MESSAGE_SIZE ids.
    Only the projection writes the read table; it applies only newer versions, so a message
    published twice, or for a projection still in flight, changes nothing. Counted in a
    metric, logged and audited. Returns how many ads it published."""
    now = timezone.now()
    ids = [
        str(ad_id)
        for ad_id in ads_behind_read_model(
            changed_from=now - timedelta(seconds=lookback_seconds),
            changed_before=now - timedelta(seconds=grace_seconds),
            limit=limit,
        )
    ]
    if not ids:
        return 0
    publish_tasks(task_name=PROJECT_ADS_TASK, payloads=list(chunked(ids, PROJECTION_MESSAGE_SIZE)))
    READ_MODEL_RECONCILED_ADS.inc(len(ids))
    logger.warning("read-model sweep: projected %d ads whose read row was missing or older", len(ids))
    with transaction.atomic():  # the run's audit entry; nothing else changed
        audit_record_many(
            records=[
                AuditRecord(
                    event_id=new_id(),
                    action="read_model.reconciled",
                    actor=SWEEP_ACTOR,
                    data={
                        "count": len(ids),
                        "lookback_seconds": lookback_seconds,
                        "grace_seconds": grace_seconds,
                        "ad_ids": ids,
                    },
                )
            ]
        )
    return len(ids)
