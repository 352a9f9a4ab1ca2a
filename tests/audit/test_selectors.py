"""Reading the log: chain verification against tampering, the timeline, the action list,
CSV rows."""

import uuid

import pytest
from django.conf import settings
from django.db import connection, transaction

from audit.chain import entry_hash
from audit.models import AuditEntry
from audit.selectors import audit_actions, audit_chain_verify, audit_csv_rows, audit_entries_for_ad, csv_safe
from audit.services import AuditRecord, audit_record_many
from tests.factories import audit_chain

pytestmark = pytest.mark.django_db
TABLE = AuditEntry._meta.db_table


def tamper(sql, params=()):
    """Change the log as only the table's owner could: with its triggers disabled."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")


def chain_of_two_in(chain: int) -> list[AuditEntry]:
    """Two entries in one call, put in the given chain by its first event's id."""
    first = uuid.uuid4()
    first = uuid.UUID(int=first.int - first.int % settings.AUDIT_CHAINS + chain)
    with transaction.atomic():
        return audit_record_many(
            records=[
                AuditRecord(event_id=event_id, action="test.done", actor="system:test")
                for event_id in (first, uuid.uuid4())
            ]
        )


def test_an_intact_chain_verifies_across_batches():
    entries = audit_chain(7)
    # Another chain for sure: two random ones would share a chain one time in AUDIT_CHAINS.
    others = chain_of_two_in((entries[0].chain + 1) % settings.AUDIT_CHAINS)
    assert others[0].chain != entries[0].chain
    report = audit_chain_verify(batch_size=3)
    assert report.ok and report.complete and report.entries == 9
    heads = {
        entries[-1].chain: (entries[-1].sequence, entries[-1].hash),
        others[-1].chain: (others[-1].sequence, others[-1].hash),
    }
    assert report.heads == heads and report.chains == len(heads)
    assert str(report) == f"Audit log intact: 9 entries in {len(heads)} chains, heads hash {report.head_hash}."
    assert len(heads) == 2 or entries[0].chain == others[0].chain


def test_the_heads_hash_changes_when_a_chain_loses_its_last_entries():
    audit_chain(3)
    before = audit_chain_verify()
    tamper(f"DELETE FROM {TABLE} WHERE sequence = (SELECT MAX(sequence) FROM {TABLE})")
    after = audit_chain_verify()
    assert after.ok and after.entries == 2  # a shorter chain is still a valid chain...
    assert after.head_hash != before.head_hash  # ...but not the one recorded before


def test_a_walk_out_of_time_says_how_far_it_got():
    entries = audit_chain(3)
    report = audit_chain_verify(seconds=-1)  # already out of time: one entry, then stop
    assert report.ok and not report.complete and report.entries == 1
    assert report.heads == {entries[0].chain: (entries[0].sequence, entries[0].hash)}
    assert str(report).startswith("Audit log intact as far as checked: 1 entries in 1 of 1 chain.")


def test_an_empty_log_is_intact():
    report = audit_chain_verify()
    assert report.ok and report.entries == 0 and str(report) == "Audit log intact: no entries yet."


def test_an_altered_entry_is_named():
    entries = audit_chain(5, data={"status": "rejected"})
    tamper(f"UPDATE {TABLE} SET data = %s WHERE sequence = %s", ['{"status": "approved"}', entries[2].sequence])
    report = audit_chain_verify(batch_size=2)
    assert not report.ok
    assert report.broken.sequence == entries[2].sequence and "altered" in report.broken.problem
    assert report.entries == 2
    assert f"Audit chain {entries[2].chain} broken at sequence {entries[2].sequence}" in str(report)


def test_an_entry_rewritten_with_a_fresh_hash_breaks_the_next_link():
    entries = audit_chain(4)
    forged = AuditEntry.objects.get(sequence=entries[1].sequence)
    forged.actor = "staff:mallory"
    tamper(
        f"UPDATE {TABLE} SET actor = %s, hash = %s WHERE sequence = %s",
        [forged.actor, entry_hash(forged), forged.sequence],
    )
    report = audit_chain_verify()
    assert report.broken.sequence == entries[2].sequence and "prev_hash" in report.broken.problem


def test_a_removed_entry_breaks_the_next_link():
    entries = audit_chain(4)
    tamper(f"DELETE FROM {TABLE} WHERE sequence = %s", [entries[1].sequence])
    assert audit_chain_verify().broken.sequence == entries[2].sequence


def test_removing_the_first_entry_is_caught_too():
    entries = audit_chain(3)
    tamper(f"DELETE FROM {TABLE} WHERE sequence = %s", [entries[0].sequence])
    assert audit_chain_verify().broken.sequence == entries[1].sequence


def test_an_ads_timeline_is_its_entries_in_chain_order():
    ad_id = uuid.uuid4()
    first = audit_chain(1, ad_id=ad_id)
    audit_chain(2)
    last = audit_chain(1, ad_id=ad_id)
    assert list(audit_entries_for_ad(ad_id=ad_id)) == first + last


def test_the_actions_are_listed_once_each_in_order():
    with transaction.atomic():
        audit_record_many(records=[AuditRecord(event_id=uuid.uuid4(), action=a, actor="system:test") for a in "bcabca"])
    assert audit_actions() == ["a", "b", "c"]


@pytest.mark.parametrize(
    "value, cell",
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("plain", "plain"),
        (None, ""),
        (42, "42"),
        ("a=b", "a=b"),
    ],
)
def test_csv_cells_never_start_a_formula(value, cell):
    assert csv_safe(value) == cell


def test_csv_rows_are_the_header_then_the_entries_in_sequence_order():
    ad_id = uuid.uuid4()
    entries = audit_chain(3, ad_id=ad_id, data={"headline": "=cmd|' /C calc'!A0"})
    rows = list(audit_csv_rows(AuditEntry.objects.order_by("-sequence")))
    assert rows[0][:5] == ["sequence", "occurred_at", "recorded_at", "actor", "action"]
    assert [row[0] for row in rows[1:]] == [str(e.sequence) for e in entries]
    assert rows[1][5] == str(ad_id) and rows[1][-4:] == [
        str(entries[0].chain),
        entries[0].prev_hash,
        entries[0].hash,
        settings.AUDIT_HMAC_KEY_ID,  # last, so the columns before it keep their places
    ]
    assert rows[1][8] == '{"headline":"=cmd|\' /C calc\'!A0"}'  # inside JSON, not at the start of a cell
