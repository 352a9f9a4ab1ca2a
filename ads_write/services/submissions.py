"""The intake consumer: store submitted ads once, judge those not judged yet, and hand the
verdicts on. Idempotent: a redelivered or duplicated event changes nothing."""

import uuid
from datetime import datetime

from django.db import transaction

from adplatform.kernel.bulk import rows_insert
from adplatform.kernel.events import Event
from audit.services import AuditRecord, audit_record_many

from ..models import Ad, AdStatus
from ..validation.engine import evaluate_many
from .events import AD_FIELDS, ad_as_stored, ad_row
from .verdicts import ads_record_verdicts


def submissions_store(*, events: list[Event]) -> list[tuple] | None:
    """Store submitted ads if absent (an upsert by id) and audit each submission once.
    Runs on the request path (sync, cqrs) or in the consumer (direct). Returns the rows it
    inserted (ad_row's), or None when some may have been stored before (a twin's)."""
    # Rows, not Ad instances: the consumer stores thousands a second (kernel/bulk.py).
    defaults = {f.attname: f.get_default() for f in AD_FIELDS}
    rows = [ad_row(e, defaults=defaults) for e in events]
    inserted = rows_insert(model=Ad, columns=[f.attname for f in AD_FIELDS], rows=rows, ignore_conflicts=True)
    audit_record_many(
        records=[
            AuditRecord(
                event_id=uuid.UUID(e.event_id),
                action="ad.submitted",
                actor=e.data.get("actor", "unknown"),
                ad_id=uuid.UUID(e.ad_id),
                retailer_id=uuid.UUID(e.retailer_id),
                data={k: v for k, v in e.data.items() if k != "actor"},
                occurred_at=datetime.fromisoformat(e.occurred_at),
            )
            for e in events
        ]
    )
    return rows if inserted else None


def submissions_process(*, events: list[Event]) -> list[uuid.UUID]:
    """Consume intake events: store what is not stored yet, judge what is not judged yet,
    record the verdicts. Idempotent: a redelivered or duplicated event changes nothing.
    Returns the ids of all ads in the events, for the projection."""
    unique = list({e.ad_id: e for e in events}.values())
    ids = [uuid.UUID(e.ad_id) for e in unique]
    # An ad and its submission's audit entry commit together, so a stored ad (cqrs, a
    # redelivery, a re-publish) needs neither again: skip them, and with them the audit
    # chain's lock, which every writer shares.
    # The stored ads are read once, for this and for judging: a cqrs message costs one query.
    ads = {ad.id: ad for ad in Ad.objects.select_related("retailer").filter(id__any=ids)}
    missing = [e for e, ad_id in zip(unique, ids, strict=True) if ad_id not in ads]
    if missing:
        with transaction.atomic():
            rows = submissions_store(events=missing)
        if rows is not None:
            # What was just inserted needs no reading back (events.ad_as_stored).
            ads |= {ad.id: ad for ad in (ad_as_stored(row, using=Ad.objects.db) for row in rows)}
        else:
            missed = [uuid.UUID(e.ad_id) for e in missing]
            ads |= {ad.id: ad for ad in Ad.objects.select_related("retailer").filter(id__any=missed)}
    unjudged = [ad for ad in ads.values() if ad.version == 1 and ad.status == AdStatus.PENDING]
    if unjudged:
        # Judged outside any transaction: the external validator may take long.
        verdicts = evaluate_many(unjudged)
        ads_record_verdicts(verdicts=verdicts)
    return ids
