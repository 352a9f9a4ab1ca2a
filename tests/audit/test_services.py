"""Writing the hash chain: links, canonical hashing through the database round trip,
redeliveries, rolled-back writers, and many writers at once."""

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction

from audit import services
from audit.chain import GENESIS_HASH, entry_hash
from audit.models import AuditEntry
from audit.selectors import audit_chain_verify
from audit.services import AuditRecord, audit_record_many


def record(action="test.done", *, chain=None, **fields) -> AuditRecord:
    """A record; with `chain`, one whose event id puts its call's entries in that chain."""
    event_id = uuid.uuid4()
    if chain is not None:
        event_id = uuid.UUID(int=event_id.int - event_id.int % settings.AUDIT_CHAINS + chain)
    return AuditRecord(event_id=event_id, action=action, actor="system:test", **fields)


def write(*records) -> list[AuditEntry]:
    with transaction.atomic():
        return audit_record_many(records=list(records))


@pytest.mark.django_db
def test_entries_link_each_to_the_one_before_in_sequence_order():
    write(record(chain=3), record())
    write(record(chain=3, ad_id=uuid.uuid4()))
    entries = list(AuditEntry.objects.order_by("sequence"))
    assert [e.chain for e in entries] == [3, 3, 3]
    assert [e.prev_hash for e in entries] == [GENESIS_HASH, entries[0].hash, entries[1].hash]
    assert all(entry_hash(e) == e.hash for e in entries)
    assert audit_chain_verify().ok


@pytest.mark.django_db
def test_each_chain_links_its_own_entries():
    write(record(chain=1))
    write(record(chain=2), record(chain=1))  # a call's entries all go to its first record's chain
    write(record(chain=1))
    one, two, three, four = AuditEntry.objects.order_by("sequence")
    assert [e.chain for e in (one, two, three, four)] == [1, 2, 2, 1]
    assert (one.prev_hash, two.prev_hash, three.prev_hash, four.prev_hash) == (
        GENESIS_HASH,
        GENESIS_HASH,
        two.hash,
        one.hash,
    )
    report = audit_chain_verify()
    assert report.ok and report.complete and (report.entries, report.chains) == (4, 2)
    assert report.heads == {1: (four.sequence, four.hash), 2: (three.sequence, three.hash)}


def known_entry(**fields) -> AuditEntry:
    """The entry of the known-answer tests (this one's and test_keyed_chain's)."""
    values = {
        "sequence": 42,
        "event_id": uuid.UUID("0193a5b0-0000-7000-8000-000000000001"),
        "occurred_at": datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
        "recorded_at": datetime(2026, 11, 26, 12, 0, 1, tzinfo=UTC),
        "actor": "system:test",
        "action": "ad.submitted",
        "ad_id": uuid.UUID("0193a5b0-0000-7000-8000-000000000002"),
        "retailer_id": None,
        "data": {"headline": "Hi", "price": "9.90"},
        "chain": 0,
        "prev_hash": GENESIS_HASH,
    }
    return AuditEntry(**{**values, **fields})


def test_chain_zero_hashes_as_before_the_log_had_chains():
    # A known answer from the hash of the single-chain log, unkeyed (no key id): entries
    # written then must verify. The keyed hash has its own in test_keyed_chain.
    entry = known_entry()
    assert entry_hash(entry) == "e522dfd363f6a119f7c9c30ab5cab2d7d72ec574cb8ed5396b733d6e862bdc8a"
    entry.chain = 1
    assert entry_hash(entry) != "e522dfd363f6a119f7c9c30ab5cab2d7d72ec574cb8ed5396b733d6e862bdc8a"


@pytest.mark.django_db
def test_the_hash_covers_every_column():
    (entry,) = write(record(ad_id=uuid.uuid4(), retailer_id=uuid.uuid4(), data={"status": "approved"}))
    original = entry_hash(entry)
    for name, value in [
        ("sequence", entry.sequence + 1),
        ("event_id", uuid.uuid4()),
        ("actor", "staff:mallory"),
        ("action", "ad.deleted"),
        ("ad_id", uuid.uuid4()),
        ("retailer_id", None),
        ("data", {"status": "rejected"}),
        ("occurred_at", entry.occurred_at + timedelta(microseconds=1)),
        ("recorded_at", entry.recorded_at - timedelta(seconds=1)),
        ("prev_hash", "f" * 64),
        ("chain", entry.chain + 1),
    ]:
        changed = AuditEntry(**{f.attname: getattr(entry, f.attname) for f in AuditEntry._meta.concrete_fields})
        setattr(changed, name, value)
        assert entry_hash(changed) != original, name


@pytest.mark.django_db
def test_what_is_hashed_is_what_the_database_gives_back():
    # Values whose naive JSON text would change on the way through jsonb / timestamptz.
    awkward = {
        "big_float": 1e16,
        "whole_float": 2.0,
        "small": 1.5e-7,
        "tenth": 0.1,
        "price": Decimal("89.90"),
        "when": datetime(2026, 11, 26, 15, 0, tzinfo=timezone(timedelta(hours=2))),
        "text": "Straße ✓ 東京",
        "nested": {"b": [1, {"z": None, "a": True}], "a": []},
        7: "int key",
    }
    occurred = datetime(2026, 11, 26, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-5)))
    write(record(data=awkward, occurred_at=occurred))
    stored = AuditEntry.objects.get()
    assert entry_hash(stored) == stored.hash
    assert stored.occurred_at == occurred
    assert stored.data["big_float"] == 10**16 and stored.data["price"] == "89.90" and stored.data["7"] == "int key"


@pytest.mark.django_db
def test_unhashable_values_are_refused():
    with pytest.raises(ValueError, match="nan"):
        write(record(data={"x": float("nan")}))
    with pytest.raises(ValueError, match="timezone-aware"):
        write(record(occurred_at=datetime(2026, 11, 26, 12, 0)))


@pytest.mark.django_db
def test_a_redelivered_event_is_recorded_once():
    again = record()
    assert len(write(again, again)) == 1
    assert write(again) == []
    assert AuditEntry.objects.count() == 1


@pytest.mark.django_db
def test_a_rolled_back_writer_leaves_a_gap_that_the_chain_does_not_mind():
    (first,) = write(record(chain=0))
    with pytest.raises(RuntimeError, match="change failed"):
        with transaction.atomic():
            audit_record_many(records=[record(chain=0)])
            raise RuntimeError("the change failed")
    (last,) = write(record(chain=0))
    assert last.sequence > first.sequence + 1  # the rolled-back entry used a sequence number
    assert last.prev_hash == first.hash
    assert audit_chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_writing_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_record_many(records=[record()])


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_valid_chain():
    """Threads with their own PostgreSQL connections, released together, each committing
    many small transactions (some with several entries, some rolled back)."""
    threads, transactions_each = 8, 15
    start = threading.Barrier(threads)
    written, errors = [], []

    def writer(n):
        try:
            start.wait()
            for i in range(transactions_each):
                batch = [record(action=f"writer.{n}") for _ in range(1 + i % 3)]
                if i % 5 == 4:
                    with pytest.raises(RuntimeError), transaction.atomic():
                        audit_record_many(records=batch)
                        raise RuntimeError("rolled back")
                else:
                    written.extend(write(*batch))
        except Exception as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    report = audit_chain_verify()
    assert report.ok, str(report)
    assert report.chains > 1  # 96 transactions on random chains of 16
    assert report.entries == len(written) == AuditEntry.objects.count()
    assert report.entries == threads * sum(1 + i % 3 for i in range(transactions_each) if i % 5 != 4)


@pytest.mark.django_db(transaction=True)
def test_a_writer_waits_only_for_writers_of_its_own_chain():
    holding, release = threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                audit_record_many(records=[record(chain=5)])
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '1s'")
            assert len(audit_record_many(records=[record(chain=6)])) == 1
        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
            audit_record_many(records=[record(chain=5)])
    finally:
        release.set()
        thread.join()
    assert audit_chain_verify().entries == 2


def test_the_writer_builds_rows_in_the_order_of_the_entry_fields():
    # audit_record_many builds each entry positionally from its row: same order, or fields swap.
    assert services._COLUMNS == [f.attname for f in AuditEntry._meta.concrete_fields]
