"""The sweeps that repair what a lost message left behind: ads still pending, from the
database or, in direct mode, the intake journal; direct-mode commands never stored, from
the command journal; and, after a restore of the database to an
earlier point, the pending markers of ads that will never be stored (docs/restore.md). (The
read side repairs its own rows: ads_read/sweep.py, ads_read/rebuild.py.)"""

import logging
import uuid
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from adplatform.kernel.broker import publish_tasks
from adplatform.kernel.ids import new_id
from adplatform.kernel.metrics import RECONCILED_ADS
from ads_read.pending import pending_forget, pending_marked
from audit.models import AuditEntry
from audit.services import AuditRecord, audit_record_many

from ..journal import (
    COMMANDS_JOURNAL,
    intake_journal_clear,
    intake_journal_holding,
    intake_journal_stale,
    intake_journal_touch,
)
from ..models import Ad, AdStatus
from .commands import COMMANDS_TASK
from .events import PROCESS_SUBMISSIONS_TASK, replayed_submitted_event

logger = logging.getLogger(__name__)

RECONCILER_ACTOR = "system:reconciler"


def ads_reconcile_pending(*, older_than_seconds: int, limit: int) -> int:
    """Re-publish the intake events of ads still pending after `older_than_seconds`, oldest
    first and at most `limit`: their message was lost (a broker that crashed without
    persistence) or is stuck. One message per ad, so that one bad ad does not hold up the
    others and its dead letter is written once however often it is re-published. Counted
    in a metric, logged and audited. Returns how many it re-published.

    In direct mode an ad whose message never reached a consumer is not in the database:
    `intake_journal_replay` finds those."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ads = list(
        Ad.objects.filter(status=AdStatus.PENDING, version=1, submitted_at__lt=cutoff).order_by("submitted_at")[:limit]
    )
    # One message per ad, all in one round trip: the broker takes them all or none.
    publish_tasks(
        task_name=PROCESS_SUBMISSIONS_TASK,
        payloads=[[replayed_submitted_event(ad, actor=RECONCILER_ACTOR).to_dict()] for ad in ads],
    )
    _reconciled(ad_ids=[str(a.id) for a in ads], older_than_seconds=older_than_seconds, source="database")
    return len(ads)


def intake_journal_replay(*, older_than_seconds: int, limit: int) -> int:
    """Direct mode's backstop: re-publish journaled intake events whose ad is still not
    stored after `older_than_seconds` (the broker lost their message), oldest first and at
    most `limit`, one message per ad; forget those that are stored. Counted, logged and
    audited like `ads_reconcile_pending`. Returns how many it re-published."""
    events = intake_journal_stale(older_than_seconds=older_than_seconds, limit=limit)
    if not events:
        return 0
    stored = {str(i) for i in Ad.objects.filter(id__in=[e.ad_id for e in events]).values_list("id", flat=True)}
    intake_journal_clear(ad_ids=list(stored))
    lost = [e for e in events if e.ad_id not in stored]
    publish_tasks(task_name=PROCESS_SUBMISSIONS_TASK, payloads=[[event.to_dict()] for event in lost])
    # Each is replayed at most once per threshold; the consumer clears it once stored.
    intake_journal_touch(ad_ids=[e.ad_id for e in lost])
    _reconciled(ad_ids=[e.ad_id for e in lost], older_than_seconds=older_than_seconds, source="journal")
    return len(lost)


def commands_journal_replay(*, older_than_seconds: int, limit: int) -> int:
    """Direct mode's backstop for commands: re-publish journaled commands that have no audit
    entry after `older_than_seconds` (never stored: the broker lost their message), oldest
    first and at most `limit`, one message per ad; forget those that are stored. The
    consumer applies each only to the version it was made on (else refuses it, audited).
    Counted, logged and audited like `ads_reconcile_pending`. Returns how many it re-published."""
    events = COMMANDS_JOURNAL.stale(older_than_seconds=older_than_seconds, limit=limit)
    if not events:
        return 0
    recorded = AuditEntry.objects.filter(event_id__in=[e.event_id for e in events]).values_list("event_id", flat=True)
    recorded = {str(event_id) for event_id in recorded}
    COMMANDS_JOURNAL.clear_events(events=[e for e in events if e.event_id in recorded])
    lost = [e for e in events if e.event_id not in recorded]
    publish_tasks(task_name=COMMANDS_TASK, payloads=[[event.to_dict()] for event in lost])
    COMMANDS_JOURNAL.touch(ad_ids=[e.ad_id for e in lost])
    _reconciled(ad_ids=[e.ad_id for e in lost], older_than_seconds=older_than_seconds, source="command journal")
    return len(lost)


def pending_markers_prune(*, batch: int = 1000) -> int:
    """Drop the pending markers of ads neither stored nor journaled: after the database was
    restored to an earlier point, an ad accepted and stored after that point is gone, and its
    marker (kept up to PENDING_MARKER_TTL when its read row was never written) would show it
    `pending` for days, an ad that will never be judged. Ads still on their way keep theirs:
    intake journals a direct-mode ad before it marks it, in one round trip, and a consumer
    stores an ad before it clears its entry, so the journal is asked first and the database
    second. (An ad whose journal write failed, best effort, reads 404 until it is stored.)
    Logged and audited. Returns how many markers it dropped."""
    dropped = []
    for marked in pending_marked(batch=batch):
        ids = [ad_id for ad_id in marked if _is_uuid(ad_id)]
        journaled = intake_journal_holding(ad_ids=ids)
        unjournaled = [ad_id for ad_id in ids if ad_id not in journaled]
        stored = {str(i) for i in Ad.objects.filter(id__in=unjournaled).values_list("id", flat=True)}
        orphans = [ad_id for ad_id in unjournaled if ad_id not in stored]
        pending_forget(ad_ids=orphans)
        dropped += orphans
    if dropped:
        logger.warning(
            "reconciliation: dropped the pending markers of %d ads neither stored nor journaled", len(dropped)
        )
        _audit_sweep(action="ads.pending_markers_dropped", data={"count": len(dropped), "ad_ids": dropped})
    return len(dropped)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _reconciled(*, ad_ids: list[str], older_than_seconds: int, source: str) -> None:
    if not ad_ids:
        return
    RECONCILED_ADS.inc(len(ad_ids))
    logger.warning(
        "reconciliation: re-published %d ads pending for over %d s (from the %s)",
        len(ad_ids),
        older_than_seconds,
        source,
    )
    _audit_sweep(
        action="ads.reconciled",
        data={"count": len(ad_ids), "older_than_seconds": older_than_seconds, "source": source, "ad_ids": ad_ids},
    )


def _audit_sweep(*, action: str, data: dict) -> None:
    """One audit entry for a sweep's run (in a transaction of its own: nothing else changed)."""
    with transaction.atomic():
        audit_record_many(records=[AuditRecord(event_id=new_id(), action=action, actor=RECONCILER_ACTOR, data=data)])
