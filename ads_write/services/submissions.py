"""The intake consumer: store submitted ads once, judge those not judged yet, and hand the
verdicts on. Idempotent: a redelivered or duplicated event changes nothing."""

import uuid
from datetime import datetime
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.utils import timezone

from adplatform.kernel.bulk import rows_insert
from adplatform.kernel.events import Event
from audit.services import AuditRecord, audit_record_many

from ..models import Ad, AdStatus
from ..validation.engine import Evaluation, evaluate_many
from ..validation.facts import retailers_of
from .events import AD_FIELDS, ad_as_stored, ad_row
from .verdicts import ads_record_verdicts, verdicts_insert


def submissions_store(*, events: list[Event]) -> list[tuple] | None:
    """Store submitted ads if absent (an upsert by id) and audit each submission once.
    Runs on the request path (cqrs) or in the consumer when some ads may be stored already.
    Returns the rows it inserted (ad_row's), or None when some may have been stored before
    (a twin's)."""
    # Rows, not Ad instances: the consumer stores thousands a second (kernel/bulk.py).
    defaults = _ad_defaults()
    rows = [ad_row(e, defaults=defaults) for e in events]
    inserted = rows_insert(model=Ad, columns=_AD_COLUMNS, rows=rows, ignore_conflicts=True)
    audit_record_many(records=_submitted_records(events))
    return rows if inserted else None


class Processed(NamedTuple):
    """What the intake consumer did with a batch of events."""

    ids: list[uuid.UUID]  # every ad of the events, for the projection
    # The ads this call stored, each with its first verdict, as they now read (status,
    # version 2; their retailer with them): the projection takes them as they are, without
    # reading them back.
    judged: list[tuple[Ad, Evaluation]]


def submissions_store_judged(*, events: list[Event]) -> list[tuple[Ad, Evaluation]] | None:
    """Store ads that no one stored yet, judged: the engine judges them first (outside any
    transaction, as the external validator may take long), then each ad is written once, with
    its final status and version 2, together with its verdict, findings and both audit
    entries (submitted, then validated) in one transaction. Writing the ad pending and then
    updating it cost a second row version and every index entry again (four trigram indexes
    among them). Returns the ads as stored, each with its verdict; None, with nothing stored,
    when one of them was stored meanwhile (a twin delivery): the caller then stores and judges
    the rest as it does for stored ads."""
    defaults = _ad_defaults()
    rows = [ad_row(e, defaults=defaults) for e in events]
    # What the rows will read back as (events.ad_as_stored): the engine judges them unread.
    ads = [ad_as_stored(row, using=Ad.objects.db) for row in rows]
    # Each with its retailer, as stored ads are read (select_related): judging and then the
    # projection (ads_project_judged) find it there, one query for both. A retailer that does
    # not exist is left to the insert, whose foreign key refuses the ad (IntegrityError).
    retailers = retailers_of(ads)
    for ad in ads:
        if ad.retailer_id in retailers:
            ad.retailer = retailers[ad.retailer_id]
    verdicts = evaluate_many(ads)
    now = timezone.now()
    for i, ad in enumerate(ads):
        verdict = verdicts[ad.id]
        row = list(rows[i])
        row[_STATUS], row[_VERSION], row[_REVIEWED_AT] = verdict.status, 2, now
        row[_RULESET_VERSION] = verdict.ruleset_version
        rows[i] = tuple(row)
        # The judged ad as its stored row reads (its other columns are ad_as_stored's already).
        ad.status, ad.version, ad.reviewed_at, ad.ruleset_version = verdict.status, 2, now, verdict.ruleset_version
    try:
        with transaction.atomic():
            # No conflict skipping: a row stored meanwhile fails the insert, and with it the
            # transaction, before anything else is written.
            rows_insert(model=Ad, columns=_AD_COLUMNS, rows=rows)
            validated = verdicts_insert(
                ads=[(ad.id, ad.retailer_id, ad.intake_event_id) for ad in ads], verdicts=verdicts, now=now
            )
            audit_record_many(records=_submitted_records(events) + validated)
    except IntegrityError:
        return None
    return [(ad, verdicts[ad.id]) for ad in ads]


def _ad_defaults() -> dict:
    return {f.attname: f.get_default() for f in AD_FIELDS}


_AD_COLUMNS = [f.attname for f in AD_FIELDS]
_STATUS, _VERSION, _REVIEWED_AT, _RULESET_VERSION = (
    _AD_COLUMNS.index(name) for name in ("status", "version", "reviewed_at", "ruleset_version")
)


def _submitted_records(events: list[Event]) -> list[AuditRecord]:
    return [
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


def submissions_process(*, events: list[Event]) -> Processed:
    """Consume intake events: store what is not stored yet, judge what is not judged yet,
    record the verdicts. Idempotent: a redelivered or duplicated event changes nothing."""
    unique = list({e.ad_id: e for e in events}.values())
    ids = [uuid.UUID(e.ad_id) for e in unique]
    # An ad commits with its submission's audit entry (and, stored here, with its verdict),
    # so a stored ad (cqrs, a redelivery, a re-publish) needs neither again: skip them, and
    # with them the audit chain's lock, which every writer shares.
    # The stored ads are read once, for this and for judging: a cqrs message costs one query.
    ads = {ad.id: ad for ad in Ad.objects.select_related("retailer").filter(id__any=ids)}
    missing = [e for e, ad_id in zip(unique, ids, strict=True) if ad_id not in ads]
    judged = submissions_store_judged(events=missing) if missing else []
    if judged is None:
        # A twin stored some of them meanwhile: store the rest pending, then judge them below
        # under the verdicts' revision check, as ads stored by the request path.
        with transaction.atomic():
            submissions_store(events=missing)
        missed = [uuid.UUID(e.ad_id) for e in missing]
        ads |= {ad.id: ad for ad in Ad.objects.select_related("retailer").filter(id__any=missed)}
    unjudged = [ad for ad in ads.values() if ad.version == 1 and ad.status == AdStatus.PENDING]
    if unjudged:
        # Judged outside any transaction: the external validator may take long.
        verdicts = evaluate_many(unjudged)
        ads_record_verdicts(verdicts=verdicts)
    return Processed(ids=ids, judged=judged or [])
