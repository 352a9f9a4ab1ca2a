"""Reading the audit log: an ad's timeline, chain verification, CSV export."""

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from adplatform.csv_cells import csv_safe

from .chain import GENESIS_HASH, UnknownKey, canonical_json, entry_hash
from .models import AuditEntry

BATCH_SIZE = 2000
CSV_COLUMNS = (
    "sequence",
    "occurred_at",
    "recorded_at",
    "actor",
    "action",
    "ad_id",
    "retailer_id",
    "event_id",
    "data",
    "chain",
    "prev_hash",
    "hash",
    "key_id",
)


@dataclass(frozen=True)
class ChainBreak:
    chain: int
    sequence: int
    problem: str


@dataclass(frozen=True)
class ChainReport:
    entries: int
    chains: int  # the chains in the log when the walk began
    heads: dict[int, tuple[int, str]]  # per chain walked: its last verified entry (sequence, hash)
    complete: bool  # every chain walked up to its last entry as of the start
    broken: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    @property
    def head_hash(self) -> str:
        """One hash over every chain's head: record it, and a later walk that reports the same
        heads (or longer chains) shows that nothing before them was cut off."""
        return hashlib.sha256(
            canonical_json({str(c): h for c, (_, h) in sorted(self.heads.items())}).encode()
        ).hexdigest()

    def __str__(self) -> str:
        if self.broken:
            return (
                f"Audit chain {self.broken.chain} broken at sequence {self.broken.sequence}: {self.broken.problem} "
                f"({self.entries} entries before it verified)."
            )
        if not self.chains:
            return "Audit log intact: no entries yet."
        if not self.complete:
            return (
                f"Audit log intact as far as checked: {self.entries} entries in {len(self.heads)} of "
                f"{_chains(self.chains)}. The time allowed ran out: `manage.py verify_audit_chain` checks all of it."
            )
        return f"Audit log intact: {self.entries} entries in {_chains(self.chains)}, heads hash {self.head_hash}."


def _chains(count: int) -> str:
    return f"{count} chain" if count == 1 else f"{count} chains"


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


def _distinct(column: str) -> list:
    """The distinct values of a column that leads an index, read by hopping along the index
    one value at a time (a loose index scan) instead of scanning millions of rows."""
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH RECURSIVE found(value) AS (
                SELECT MIN({column}) FROM {table}
                UNION ALL
                SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > found.value)
                FROM found WHERE found.value IS NOT NULL
            )
            SELECT value FROM found WHERE value IS NOT NULL
            """
        )
        return [row[0] for row in cursor.fetchall()]


def _chain_heads() -> dict[int, int]:
    """Each chain's last sequence: the chains by a loose index scan, then one probe each of
    the (chain, sequence) index."""
    return {
        chain: AuditEntry.objects.filter(chain=chain).order_by("-sequence").values_list("sequence", flat=True).first()
        for chain in _distinct("chain")
    }


def audit_chain_heads() -> dict[int, tuple[int, str]]:
    """Each chain's last entry now, (sequence, hash): what an anchor publishes."""
    return {
        chain: AuditEntry.objects.filter(chain=chain).order_by("-sequence").values_list("sequence", "hash").first()
        for chain in _distinct("chain")
    }


def _entry_problem(entry: AuditEntry, *, prev_hash: str, keyed_before: bool) -> str | None:
    if entry.prev_hash != prev_hash:
        return (
            f"its prev_hash {entry.prev_hash[:16]}… is not the hash of the entry before it in the chain "
            f"({prev_hash[:16]}…): an entry before it was removed, inserted or rewritten"
        )
    if not entry.key_id and (keyed_before or not settings.AUDIT_ACCEPT_UNKEYED):
        # Only entries from before the chain was keyed may lack a key id: one after keyed
        # entries (or any, with AUDIT_ACCEPT_UNKEYED off) was rehashed by someone without the key.
        return "it has no key id (a plain SHA-256) where the chain is keyed: it was rehashed without the key"
    try:
        if entry_hash(entry) != entry.hash:
            return "its content does not match its hash: the entry was altered"
    except UnknownKey:
        return f"its key id {entry.key_id!r} is not in AUDIT_HMAC_KEYS (a key that was rotated out, or forged)"
    return None


def audit_chain_verify(
    *, batch_size: int = BATCH_SIZE, seconds: float | None = None, anchors: dict[int, dict[int, str]] | None = None
) -> ChainReport:
    """Walk each chain in sequence order up to its last entry at the start, re-hashing each
    entry and checking its link to the one before; stop at the first bad entry, or when the
    given seconds are up (the report then says how far it got).

    A chain's entries are written in sequence order under its lock, so the walk never meets
    an entry committed after a later one. Deleting entries at the very end of a chain leaves
    a valid chain: `anchors` (chain -> {sequence: hash}, heads published earlier; audit.anchors)
    catch that, and a chain rewritten from the anchored head on: each must still be there."""
    deadline = time.monotonic() + seconds if seconds is not None else None
    anchors = anchors or {}
    last_of = _chain_heads()
    heads, count = {}, 0

    def broken(chain, sequence, problem):
        return ChainReport(
            entries=count,
            chains=len(last_of),
            heads=heads,
            complete=False,
            broken=ChainBreak(chain=chain, sequence=sequence, problem=problem),
        )

    for chain in sorted(set(last_of) | set(anchors)):
        prev_hash, keyed_before = GENESIS_HASH, False
        anchored = dict(anchors.get(chain, {}))
        entries = AuditEntry.objects.filter(chain=chain, sequence__lte=last_of.get(chain, 0))
        for entry in _in_sequence_order(entries, batch_size=batch_size):
            problem = _entry_problem(entry, prev_hash=prev_hash, keyed_before=keyed_before)
            if problem is None and anchored.get(entry.sequence, entry.hash) != entry.hash:
                problem = "its hash is not the one anchored for it: the chain was rewritten from here or before"
            if problem:
                return broken(chain, entry.sequence, problem)
            anchored.pop(entry.sequence, None)
            prev_hash, count, keyed_before = entry.hash, count + 1, keyed_before or bool(entry.key_id)
            heads[chain] = (entry.sequence, prev_hash)
            if deadline is not None and time.monotonic() > deadline:
                return ChainReport(entries=count, chains=len(last_of), heads=heads, complete=False)
        if anchored:
            missing = min(anchored)
            end = f"ends at sequence {heads[chain][0]}" if chain in heads else "has no entries"
            return broken(
                chain,
                missing,
                f"the chain {end}, but its entry {missing} was anchored: entries were cut off or removed",
            )
    return ChainReport(entries=count, chains=len(last_of), heads=heads, complete=True)


def audit_entries_for_ad(*, ad_id) -> QuerySet:
    """An ad's timeline: its entries in chain order."""
    return AuditEntry.objects.filter(ad_id=ad_id).order_by("sequence")


def audit_actions() -> list[str]:
    """The distinct actions in the log, off the (action, sequence) index."""
    return _distinct("action")


def audit_csv_rows(queryset: QuerySet) -> Iterator[list[str]]:
    """The header and the entries of a (filtered) queryset in sequence order, as CSV cells,
    a batch at a time."""
    yield list(CSV_COLUMNS)
    for entry in _in_sequence_order(queryset):
        yield [
            csv_safe(value)
            for value in (
                entry.sequence,
                entry.occurred_at.isoformat(),
                entry.recorded_at.isoformat(),
                entry.actor,
                entry.action,
                entry.ad_id,
                entry.retailer_id,
                entry.event_id,
                canonical_json(entry.data),
                entry.chain,
                entry.prev_hash,
                entry.hash,
                entry.key_id,
            )
        ]
