"""Recording the engine's verdicts: a revision check under a row lock, findings, an audit
entry each."""

import uuid
from collections import Counter

from django.db import transaction
from django.utils import timezone

from adplatform.kernel.bulk import rows_insert
from adplatform.kernel.metrics import VERDICTS
from audit.services import AuditRecord, audit_record_many

from ..models import Ad, Finding, Verdict
from .events import derived_event_id

VALIDATOR_ACTOR = "system:validator"


def ads_record_verdicts(*, verdicts: dict) -> list[uuid.UUID]:
    """Apply the engine's verdicts to ads still awaiting one (a revision check under a row
    lock), with their findings and an audit entry each. Returns the ids it changed."""
    now = timezone.now()
    with transaction.atomic():
        # Only the columns this needs, not Ad instances: a batch is hundreds of ads.
        ads = list(
            Ad.objects.select_for_update()
            .filter(id__any=list(verdicts), version=1)
            .order_by("id")
            .values_list("id", "retailer_id", "intake_event_id")
        )
        if not ads:
            return []
        records = verdicts_insert(ads=ads, verdicts=verdicts, now=now)
        by_outcome = {}
        for ad_id, *_ in ads:
            by_outcome.setdefault((verdicts[ad_id].status, verdicts[ad_id].ruleset_version), []).append(ad_id)
        # One UPDATE per outcome rather than bulk_update's per-row CASE, which costs more
        # than the rest of the batch together.
        for (status, ruleset_version), ids in by_outcome.items():
            Ad.objects.filter(id__any=ids).update(
                status=status, version=2, reviewed_at=now, ruleset_version=ruleset_version
            )
        audit_record_many(records=records)
    return [ad_id for ad_id, *_ in ads]


def verdicts_insert(*, ads: list[tuple], verdicts: dict, now) -> list[AuditRecord]:
    """Store the engine's verdicts (version 2) of `ads` ((id, retailer id, intake event id)
    each) with their findings, inside the caller's transaction, which also brings the ads to
    them. Returns their audit records, for the caller's one audit call of the transaction."""
    rows, records = [], []
    for ad_id, retailer_id, intake_event_id in ads:
        verdict = verdicts[ad_id]
        event_id = derived_event_id(intake_event_id, "validated")
        rows.append((ad_id, event_id, 2, verdict.status, Verdict.Source.ENGINE, verdict.ruleset_version, "", "", now))
        records.append(
            AuditRecord(
                event_id=event_id,
                action="ad.validated",
                actor=VALIDATOR_ACTOR,
                ad_id=ad_id,
                retailer_id=retailer_id,
                data={
                    "status": verdict.status,
                    "version": 2,
                    "ruleset_version": verdict.ruleset_version,
                    "findings": [f.as_dict() for f in verdict.findings],
                },
                occurred_at=now,
            )
        )
    rows_insert(model=Verdict, columns=_VERDICT_COLUMNS, rows=rows)
    _findings_insert(verdicts=verdicts, events={row[0]: row[1] for row in rows if verdicts[row[0]].findings})
    counts = Counter((row[3], Verdict.Source.ENGINE) for row in rows)
    transaction.on_commit(lambda: _count_verdicts(counts))
    return records


def _findings_insert(*, verdicts: dict, events: dict) -> None:
    """Store the findings of the verdicts just written, those of the ads in `events` (ad id
    -> its verdict's event id): a clean batch reads nothing back."""
    if not events:
        return
    # The findings point at their verdict's id, which the database chose.
    verdict_ids = dict(Verdict.objects.filter(event_id__any=list(events.values())).values_list("ad_id", "id"))
    rows_insert(
        model=Finding,
        columns=_FINDING_COLUMNS,
        rows=[
            (verdict_ids[ad_id], f.code, f.category, f.severity, f.message, f.field or "", f.evidence)
            for ad_id in events
            for f in verdicts[ad_id].findings
        ],
    )


_VERDICT_COLUMNS = [
    "ad_id",
    "event_id",
    "version",
    "status",
    "source",
    "ruleset_version",
    "reviewer",
    "reason",
    "created_at",
]
_FINDING_COLUMNS = ["verdict_id", *Finding.DOCUMENT_FIELDS]


def _count_verdicts(counts: Counter) -> None:
    for (status, source), count in counts.items():
        VERDICTS.labels(status, source).inc(count)
