"""Reading the audit log: an ad's timeline, chain verification, CSV export."""

import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from adplatform.csv_cells import csv_safe

from .chain import GENESIS_HASH, canonical_json, entry_hash
from .models import AuditEntry

BATCH_SIZE = 2000
CSV_COLUMNS = (
    "sequence", "occurred_at", "recorded_at", "actor", "action", "ad_id", "retailer_id", "event_id", "data",
    "prev_hash", "hash",
)


@dataclass(frozen=True)
class ChainBreak:
    sequence: int
    problem: str


@dataclass(frozen=True)
class ChainReport:
    entries: int
    first_sequence: int | None
    last_sequence: int | None
    head_hash: str
    head_sequence: int | None = None  # the chain's last entry when the walk began
    broken: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def complete(self) -> bool:
        return self.last_sequence == self.head_sequence

    def __str__(self) -> str:
        if self.broken:
            return (
                f"Audit chain broken at sequence {self.broken.sequence}: {self.broken.problem} "
                f"({self.entries} entries before it verified)."
            )
        if not self.entries:
            return "Audit chain intact: no entries yet."
        if not self.complete:
            return (
                f"Audit chain intact as far as checked: {self.entries} entries, sequences {self.first_sequence}–"
                f"{self.last_sequence} of a chain that reaches {self.head_sequence}. The time allowed ran out: "
                f"`manage.py verify_audit_chain` checks all of it."
            )
        return (
            f"Audit chain intact: {self.entries} entries, sequences {self.first_sequence}–{self.last_sequence}, "
            f"head hash {self.head_hash}."
        )


def _in_sequence_order(queryset: QuerySet, *, batch_size: int = BATCH_SIZE) -> Iterator[AuditEntry]:
    """The entries in ascending sequence, fetched a batch at a time by keyset (constant
    memory, no long-lived cursor or transaction)."""
    after = 0
    while True:
        batch = list(queryset.filter(sequence__gt=after).order_by("sequence")[:batch_size])
        yield from batch
        if len(batch) < batch_size:
            return
        after = batch[-1].sequence


def audit_chain_verify(*, batch_size: int = BATCH_SIZE, seconds: float | None = None) -> ChainReport:
    """Walk the chain in sequence order up to the head at the start, re-hashing each entry
    and checking its link to the one before; stop at the first bad entry, or when the
    given seconds are up (the report then says how far it got).

    Entries are written in sequence order under the chain lock, so the walk never meets an
    entry committed after a later one. Deleting entries at the very end of the chain leaves
    a valid chain: compare the head hash reported here with one recorded earlier."""
    deadline = time.monotonic() + seconds if seconds is not None else None
    head = AuditEntry.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    prev_hash, count, first, last = GENESIS_HASH, 0, None, None
    if head is None:
        return ChainReport(entries=0, first_sequence=None, last_sequence=None, head_hash=GENESIS_HASH)
    for entry in _in_sequence_order(AuditEntry.objects.filter(sequence__lte=head), batch_size=batch_size):
        problem = None
        if entry.prev_hash != prev_hash:
            problem = (
                f"its prev_hash {entry.prev_hash[:16]}… is not the hash of the entry before it "
                f"({prev_hash[:16]}…): an entry before it was removed, inserted or rewritten"
            )
        elif entry_hash(entry) != entry.hash:
            problem = "its content does not match its hash: the entry was altered"
        if problem:
            return ChainReport(
                entries=count, first_sequence=first, last_sequence=last, head_hash=prev_hash, head_sequence=head,
                broken=ChainBreak(sequence=entry.sequence, problem=problem),
            )
        first = entry.sequence if first is None else first
        last, prev_hash, count = entry.sequence, entry.hash, count + 1
        if deadline is not None and time.monotonic() > deadline:
            break
    return ChainReport(entries=count, first_sequence=first, last_sequence=last, head_hash=prev_hash, head_sequence=head)


def audit_entries_for_ad(*, ad_id) -> QuerySet:
    """An ad's timeline: its entries in chain order."""
    return AuditEntry.objects.filter(ad_id=ad_id).order_by("sequence")


def audit_actions() -> list[str]:
    """The distinct actions in the log, read by hopping along the (action, sequence) index
    one value at a time (a loose index scan) instead of scanning millions of rows."""
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE actions(action) AS (
                SELECT MIN(action) FROM {table}
                UNION ALL
                SELECT (SELECT MIN(action) FROM {table} WHERE action > actions.action)
                FROM actions WHERE actions.action IS NOT NULL
            )
            SELECT action FROM actions WHERE action IS NOT NULL
            """
        )
        return [row[0] for row in cursor.fetchall()]


def audit_csv_rows(queryset: QuerySet) -> Iterator[list[str]]:
    """The header and the entries of a (filtered) queryset in sequence order, as CSV cells,
    a batch at a time."""
    yield list(CSV_COLUMNS)
    for entry in _in_sequence_order(queryset):
        yield [
            csv_safe(value)
            for value in (
                entry.sequence, entry.occurred_at.isoformat(), entry.recorded_at.isoformat(), entry.actor,
                entry.action, entry.ad_id, entry.retailer_id, entry.event_id, canonical_json(entry.data),
                entry.prev_hash, entry.hash,
            )
        ]

