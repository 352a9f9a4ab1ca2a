"""Writing the audit log. Call inside the transaction of the change being recorded."""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from .models import AuditEntry

GENESIS_HASH = "0" * 64
# Any constant: the PostgreSQL advisory lock that orders writers of the chain.
_CHAIN_LOCK_KEY = 0x0AD0_A0D1


@dataclass(frozen=True)
class AuditRecord:
    event_id: uuid.UUID
    action: str
    actor: str
    ad_id: uuid.UUID | None = None
    retailer_id: uuid.UUID | None = None
    data: dict = field(default_factory=dict)
    occurred_at: datetime | None = None


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(*, prev_hash: str, event_id, occurred_at: datetime, actor: str, action: str, ad_id, retailer_id, data) -> str:
    body = canonical_json(
        {
            "event_id": str(event_id),
            "occurred_at": occurred_at.isoformat(),
            "actor": actor,
            "action": action,
            "ad_id": str(ad_id) if ad_id else None,
            "retailer_id": str(retailer_id) if retailer_id else None,
            "data": data,
        }
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def _lock_chain() -> None:
    # Serialise chain writers until commit so each entry links to the one before it.
    # SQLite needs nothing: its IMMEDIATE transactions already admit one writer at a time.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])


def audit_record_many(*, records: list[AuditRecord]) -> list[AuditEntry]:
    """Append records to the chain, skipping any whose event is already recorded (so
    redelivered events leave one entry). Returns the entries written."""
    if not records:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record_many must run inside the transaction of the change it records")
    _lock_chain()
    unique = list({r.event_id: r for r in records}.values())
    seen = set(AuditEntry.objects.filter(event_id__in=[r.event_id for r in unique]).values_list("event_id", flat=True))
    fresh = [r for r in unique if r.event_id not in seen]
    if not fresh:
        return []
    last = AuditEntry.objects.order_by("-sequence").values_list("hash", flat=True).first()
    prev_hash = last or GENESIS_HASH
    now = timezone.now()
    entries = []
    for record in fresh:
        data = json.loads(canonical_json(record.data))  # store exactly what was hashed
        occurred_at = record.occurred_at or now
        digest = entry_hash(
            prev_hash=prev_hash,
            event_id=record.event_id,
            occurred_at=occurred_at,
            actor=record.actor,
            action=record.action,
            ad_id=record.ad_id,
            retailer_id=record.retailer_id,
            data=data,
        )
        entries.append(
            AuditEntry(
                event_id=record.event_id,
                occurred_at=occurred_at,
                recorded_at=now,
                actor=record.actor,
                action=record.action,
                ad_id=record.ad_id,
                retailer_id=record.retailer_id,
                data=data,
                prev_hash=prev_hash,
                hash=digest,
            )
        )
        prev_hash = digest
    AuditEntry.objects.bulk_create(entries)
    return entries


def audit_record(**kwargs) -> AuditEntry | None:
    with transaction.atomic():
        written = audit_record_many(records=[AuditRecord(**kwargs)])
    return written[0] if written else None
