"""Writing the audit log. Call inside the transaction of the change being recorded, as late
in it as you can: from the call until commit, every other writer of the same chain waits."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from adplatform.kernel.bulk import JsonText, rows_insert

from .chain import GENESIS_HASH, canonical_form, entry_hash, hmac_key
from .models import AuditEntry

# Any constant: with a chain's number, the PostgreSQL advisory lock that orders its writers.
CHAIN_LOCK_KEY = 0x0AD0_A0D1
# AuditEntry's columns in the order of its fields: the writer builds each row once, as a tuple
# for COPY and, positionally, as the entry it returns (tests/audit checks the order).
_COLUMNS = [
    "sequence",
    "event_id",
    "occurred_at",
    "recorded_at",
    "actor",
    "action",
    "ad_id",
    "retailer_id",
    "data",
    "chain",
    "key_id",
    "prev_hash",
    "hash",
]


@dataclass(frozen=True)
class AuditRecord:
    event_id: uuid.UUID
    action: str
    actor: str
    ad_id: uuid.UUID | None = None
    retailer_id: uuid.UUID | None = None
    data: dict = field(default_factory=dict)
    occurred_at: datetime | None = None


def _chain_for(event_id: uuid.UUID) -> int:
    # Spread over the chains by the (random) low bits of the first event's id. The chain
    # needs no relation to the ad: an ad's later entries come from later transactions, so
    # their sequence numbers rise whatever chains they are in.
    return event_id.int % settings.AUDIT_CHAINS


def _lock_chain(chain: int) -> None:
    # Serialise the chain's writers until commit so each entry links to the one before it
    # and sequence order is chain order. SQLite needs nothing: its IMMEDIATE transactions
    # already admit one writer at a time.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CHAIN_LOCK_KEY, chain])


def _chain_state(*, chain: int, event_ids: list[uuid.UUID], count: int) -> tuple[set, tuple | None, list[int]]:
    """Under the chain's lock, in one round trip on PostgreSQL (each one is a wait that every
    other writer of the chain shares): which of these events are recorded already, the
    chain's last entry (sequence, hash), and `count` sequence numbers for new entries.
    Sequence numbers are known before insert because each entry's hash covers its own;
    taken under the lock, they rise in chain order. Unused ones (events already recorded)
    and those of a rolled-back transaction leave gaps, which the chain does not mind
    (entries link by hash)."""
    table = AuditEntry._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT ARRAY(SELECT event_id FROM {table} WHERE event_id = ANY(%s)), "
                f"(SELECT ARRAY[sequence::text, hash] FROM {table} WHERE chain = %s ORDER BY sequence DESC LIMIT 1), "
                f"ARRAY(SELECT nextval(pg_get_serial_sequence(%s, 'sequence')) FROM generate_series(1, %s))",
                [event_ids, chain, table, count],
            )
            seen, last, sequences = cursor.fetchone()
        return set(seen), (int(last[0]), last[1]) if last else None, sorted(sequences)
    seen = set(AuditEntry.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True))
    last = AuditEntry.objects.filter(chain=chain).order_by("-sequence").values_list("sequence", "hash").first()
    start = (AuditEntry.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0) + 1
    return seen, last, list(range(start, start + count))


def audit_record_many(*, records: list[AuditRecord]) -> list[AuditEntry]:
    """Append records to one of the chains, skipping any whose event is already recorded
    (so redelivered events leave one entry). Returns the entries written.

    Call it once per transaction: two calls may take two chains' locks, in an order that
    another transaction could take the other way round (PostgreSQL would then abort one)."""
    if not records:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record_many must run inside the transaction of the change it records")
    unique = list({_as_uuid(r.event_id): r for r in records}.items())
    # Before the lock: what does not depend on the chain (the data as stored and hashed, and
    # its canonical text, which the hash and the COPY take as they are).
    forms = {event_id: canonical_form(record.data) for event_id, record in unique}
    key_id = settings.AUDIT_HMAC_KEY_ID
    key = hmac_key(key_id)
    chain = _chain_for(unique[0][0])
    _lock_chain(chain)
    seen, last, sequences = _chain_state(chain=chain, event_ids=[event_id for event_id, _ in unique], count=len(unique))
    fresh = [(event_id, r) for event_id, r in unique if event_id not in seen]
    if not fresh:
        return []
    prev_hash = last[1] if last else GENESIS_HASH
    now = timezone.now()
    alias = connection.alias
    rows, entries = [], []
    for sequence, (event_id, record) in zip(sequences, fresh, strict=True):
        text, data = forms[event_id]
        values = [
            sequence,
            event_id,
            record.occurred_at or now,
            now,
            record.actor,
            record.action,
            record.ad_id,
            record.retailer_id,
            data,  # store exactly what is hashed
            chain,
            key_id,
            prev_hash,
            None,
        ]
        # Built positionally (Model.from_db), not by keywords: half the cost, thousands a second.
        entry = AuditEntry.from_db(alias, None, values)
        entry.hash = prev_hash = entry_hash(entry, key=key, data_json=text)
        values[8], values[12] = JsonText(text), prev_hash
        rows.append(values)
        entries.append(entry)
    rows_insert(model=AuditEntry, columns=_COLUMNS, rows=rows)
    return entries


def audit_record(**kwargs) -> AuditEntry | None:
    """One record (AuditRecord's fields as keywords), by the rules of audit_record_many."""
    written = audit_record_many(records=[AuditRecord(**kwargs)])
    return written[0] if written else None


def _as_uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
