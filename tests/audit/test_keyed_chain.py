"""The keyed, anchored chain: hashes are HMACs under a key the database does not hold, and
the chains' heads are published outside it, so that the table's owner can neither rehash an
edit nor cut the tail unseen."""

import hashlib
import hmac
import io
import json
import uuid
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from adplatform.celery import app
from audit.anchors import anchor_document, anchors_read, audit_anchor_publish
from audit.chain import GENESIS_HASH, canonical_json, entry_hash
from audit.models import AuditEntry
from audit.selectors import audit_chain_verify
from audit.services import AuditRecord, audit_record_many
from audit.tasks import maintenance_audit_anchor_task
from tests.audit.test_services import known_entry
from tests.factories import audit_chain

pytestmark = pytest.mark.django_db
TABLE = AuditEntry._meta.db_table
KEYS = {"k1": "first-audit-key-of-at-least-32-characters", "k2": "second-audit-key-of-at-least-32-characters"}


@pytest.fixture
def keys(settings):
    settings.AUDIT_HMAC_KEYS, settings.AUDIT_HMAC_KEY_ID = dict(KEYS), "k1"
    return settings


def as_owner(*statements):
    """Change the log as only its owner (or a superuser) could: in a replica session, where
    the append-only triggers do not fire."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for sql, params in statements:
            cursor.execute(sql, params)


def plain_sha256(entry) -> str:
    """What the unkeyed chain computed: SHA-256 of the canonical form, no key id."""
    unkeyed = AuditEntry(**{f.attname: getattr(entry, f.attname) for f in AuditEntry._meta.concrete_fields})
    unkeyed.key_id = ""
    return entry_hash(unkeyed)


def rehash_from(entries, first: int, *, change=lambda e: None):
    """Rewrite the chain from entries[first] on as someone without the key would: edit, then
    rehash each with plain SHA-256 (no key id) and relink the rest, so that every link holds."""
    prev_hash = entries[first - 1].hash if first else GENESIS_HASH
    # Every later entry of the same chain, not only those given: another writer (an anchor's
    # own entry, say) may have landed in this chain after them.
    later = AuditEntry.objects.filter(chain=entries[first].chain, sequence__gte=entries[first].sequence)
    statements = []
    for index, entry in enumerate(later.order_by("sequence")):
        if index == 0:
            change(entry)
        entry.prev_hash, entry.key_id = prev_hash, ""
        entry.hash = prev_hash = plain_sha256(entry)
        statements.append(
            (
                f"UPDATE {TABLE} SET actor = %s, prev_hash = %s, key_id = '', hash = %s WHERE sequence = %s",
                [entry.actor, entry.prev_hash, entry.hash, entry.sequence],
            )
        )
    as_owner(*statements)


def verify_command(*args) -> str:
    out = io.StringIO()
    call_command("verify_audit_chain", *args, stdout=out)
    return out.getvalue()


def test_the_keyed_hash_known_answer(keys):
    # HMAC-SHA256 under the key the entry names, over the canonical form with the key id.
    entry = known_entry(chain=3, key_id="k1")
    body = (
        '{"action":"ad.submitted","actor":"system:test","ad_id":"0193a5b0-0000-7000-8000-000000000002",'
        '"chain":3,"data":{"headline":"Hi","price":"9.90"},"event_id":"0193a5b0-0000-7000-8000-000000000001",'
        '"key_id":"k1","occurred_at":"2026-11-26T12:00:00.000000+00:00","prev_hash":"' + GENESIS_HASH + '",'
        '"recorded_at":"2026-11-26T12:00:01.000000+00:00","retailer_id":null,"sequence":42}'
    )
    expected = hmac.new(KEYS["k1"].encode(), body.encode(), hashlib.sha256).hexdigest()
    assert entry_hash(entry) == expected == "91f822d0450a5b05fd5ea8960101e2908e7427f67e0c3b7d5936b7d26e040cf0"
    entry.key_id = "k2"  # the key id is covered, and picks the key
    assert entry_hash(entry) != expected


def test_new_entries_are_keyed_with_the_current_key(keys):
    entries = audit_chain(2)
    assert {e.key_id for e in AuditEntry.objects.all()} == {"k1"}
    assert all(e.hash != plain_sha256(e) for e in entries)
    assert audit_chain_verify().ok


def test_an_edited_entry_rehashed_with_plain_sha256_is_caught(keys):
    entries = audit_chain(4)
    assert audit_chain_verify().ok
    rehash_from(entries, 1, change=lambda e: setattr(e, "actor", "staff:mallory"))
    report = audit_chain_verify()
    assert not report.ok and report.broken.sequence == entries[1].sequence
    assert "rehashed without the key" in report.broken.problem
    with pytest.raises(CommandError, match=f"broken at sequence {entries[1].sequence}"):
        verify_command()


def test_an_edited_entry_rehashed_under_a_guessed_key_is_caught(keys):
    entries = audit_chain(3)
    forged = AuditEntry.objects.get(sequence=entries[2].sequence)
    forged.actor = "staff:mallory"
    guess = hmac.new(b"guessed", canonical_json({"actor": forged.actor}).encode(), hashlib.sha256).hexdigest()
    as_owner((f"UPDATE {TABLE} SET actor = %s, hash = %s WHERE sequence = %s", [forged.actor, guess, forged.sequence]))
    report = audit_chain_verify()
    assert report.broken.sequence == entries[2].sequence and "altered" in report.broken.problem


def test_entries_from_before_the_key_still_verify_and_then_the_chain_stays_keyed(keys):
    # A log written by the unkeyed chain (empty key id, plain SHA-256), then keyed entries.
    prev_hash, legacy = GENESIS_HASH, []
    for sequence in (1, 2):
        entry = AuditEntry(
            sequence=sequence,
            event_id=uuid.UUID(int=sequence * keys.AUDIT_CHAINS),  # chain 0
            occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
            recorded_at=datetime(2026, 11, 1, tzinfo=UTC),
            actor="system:old",
            action="ad.submitted",
            data={},
            chain=0,
            prev_hash=prev_hash,
        )
        entry.hash = prev_hash = entry_hash(entry)
        legacy.append(entry)
    AuditEntry.objects.bulk_create(legacy)
    with connection.cursor() as cursor:  # new entries must come after the old ones
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'sequence'), 10)")
    with transaction.atomic():
        (keyed,) = audit_record_many(
            records=[AuditRecord(event_id=uuid.UUID(int=99 * keys.AUDIT_CHAINS), action="x", actor="system:test")]
        )
    assert keyed.chain == 0 and keyed.key_id == "k1" and keyed.prev_hash == legacy[-1].hash
    report = audit_chain_verify()
    assert report.ok and report.entries == 3
    keys.AUDIT_ACCEPT_UNKEYED = False  # for a log begun keyed: no entry may pass for an old one
    assert "rehashed without the key" in audit_chain_verify().broken.problem


def test_keys_rotate_and_a_key_taken_away_fails_verification(keys):
    old = audit_chain(2)
    keys.AUDIT_HMAC_KEY_ID = "k2"
    new = audit_chain(2)
    assert [e.key_id for e in old + new] == ["k1", "k1", "k2", "k2"]
    assert audit_chain_verify().ok
    keys.AUDIT_HMAC_KEYS = {"k2": KEYS["k2"]}
    report = audit_chain_verify()
    assert report.broken.sequence == old[0].sequence and "'k1' is not in AUDIT_HMAC_KEYS" in report.broken.problem


def test_a_cut_tail_passes_alone_but_not_against_the_anchor(keys, tmp_path):
    entries = audit_chain(3)
    audit_anchor_publish(folder=str(tmp_path), recipients=[])
    (anchor,) = tmp_path.glob("audit-heads-*.json")
    # The anchor's own entry is in the log too; cut both it and the last entry before.
    as_owner((f"DELETE FROM {TABLE} WHERE sequence >= %s", [entries[-1].sequence]))
    assert audit_chain_verify().ok  # a shorter chain is still a valid chain...
    with pytest.raises(CommandError, match=f"its entry {entries[-1].sequence} was anchored: entries were cut off"):
        verify_command("--anchors", str(anchor))  # ...but not the one published


def test_a_chain_rewritten_whole_passes_alone_but_not_against_the_anchor(keys, tmp_path):
    entries = audit_chain(3)
    audit_anchor_publish(folder=str(tmp_path), recipients=[])
    # Rewritten from its first entry on as an unkeyed chain: every link holds.
    rehash_from(entries, 0, change=lambda e: setattr(e, "actor", "staff:mallory"))
    assert audit_chain_verify(anchors={}).ok
    with pytest.raises(CommandError, match="not the one anchored for it"):
        verify_command("--anchors", str(tmp_path))


def test_an_intact_log_verifies_against_its_anchors(keys, tmp_path):
    audit_chain(3)
    audit_anchor_publish(folder=str(tmp_path), recipients=[])
    audit_chain(2)
    audit_anchor_publish(folder=str(tmp_path), recipients=[])
    audit_chain(1)
    out = verify_command("--anchors", str(tmp_path))
    assert "Audit log intact" in out and "anchored heads of 2 anchor file(s) are in the log" in out


def test_an_altered_anchor_file_is_refused(keys, tmp_path):
    audit_chain(2)
    path = audit_anchor_publish(folder=str(tmp_path), recipients=[])
    document = json.loads(path.read_text())
    head = next(iter(document["heads"].values()))
    head["sequence"] -= 1  # as if the chain had been shorter
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document))
    with pytest.raises(CommandError, match="signature does not verify"):
        verify_command("--anchors", str(forged))


def test_the_daily_task_writes_a_signed_file_mails_auditors_and_is_audited(keys, settings, tmp_path):
    entries = audit_chain(2)
    settings.AUDIT_ANCHOR_DIR, settings.AUDIT_ANCHOR_EMAILS = str(tmp_path / "anchors"), ["auditors@example.com"]
    written = maintenance_audit_anchor_task.apply().get()
    (path,) = (tmp_path / "anchors").glob("audit-heads-*.json")
    assert written == str(path) and oct(path.stat().st_mode & 0o777) == "0o444"
    heads = anchors_read([str(path)])
    assert heads == {entries[-1].chain: {entries[-1].sequence: entries[-1].hash}}
    (message,) = mail.outbox
    assert message.to == ["auditors@example.com"] and message.attachments[0][0] == path.name
    assert json.loads(message.attachments[0][1]) == json.loads(path.read_text())
    anchored = AuditEntry.objects.get(action="audit.anchored")
    assert (
        anchored.data["file"] == str(path) and anchored.data["signature"] == json.loads(path.read_text())["signature"]
    )
    assert app.conf.beat_schedule["audit-anchor"]["task"] == maintenance_audit_anchor_task.name


def test_the_anchor_document_is_signed_with_the_current_key(keys):
    audit_chain(1)
    document = anchor_document()
    assert document["key_id"] == "k1" and len(document["signature"]) == 64
