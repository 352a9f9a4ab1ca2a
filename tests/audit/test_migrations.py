"""The database itself keeps the audit log append-only (migration audit/0003), on
PostgreSQL and on the embedded SQLite default."""

import os
import sqlite3
import subprocess
import sys
import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEntry
from audit.services import AuditRecord, audit_record_many
from tests.conftest import ROOT

TABLE = AuditEntry._meta.db_table


@pytest.fixture
def entry(db):
    with transaction.atomic():
        audit_record_many(records=[AuditRecord(event_id=uuid.uuid4(), action="test.done", actor="system:test")])
    return AuditEntry.objects.get()


@pytest.mark.parametrize(
    "sql",
    [
        f"UPDATE {TABLE} SET actor = 'staff:mallory'",
        f"UPDATE {TABLE} SET data = '{{}}' WHERE sequence = -1",  # refused even when it would touch no row
        f"DELETE FROM {TABLE}",
        f"TRUNCATE {TABLE}",
        f"TRUNCATE {TABLE} CASCADE",
    ],
)
def test_postgresql_refuses_to_change_or_remove_entries(entry, sql):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert AuditEntry.objects.get() == entry and AuditEntry.objects.get().actor == "system:test"


def test_the_orm_is_refused_too(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.filter(sequence=entry.sequence).update(actor="staff:mallory")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        entry.delete()
    assert AuditEntry.objects.filter(actor="system:test").count() == 1


def test_sqlite_default_gets_the_triggers_the_group_and_a_verifiable_chain(tmp_path):
    """`make run`'s embedded default: migrate, seed (a retailer, a key, an auditor: all
    audited), verify; then SQLite refuses UPDATE and DELETE on the log."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "ADPLATFORM_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "adplatform.settings",
    }
    env.pop("REDIS_URL", None)
    env.pop("READ_DATABASE_URL", None)
    script = (
        "import django; django.setup(); from django.core.management import call_command as c; "
        "c('migrate', verbosity=0); c('seed_demo'); c('verify_audit_chain')"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Auditor (shown once): auditor / " in run.stdout
    # retailer.created, api_key.created, staff.created, staff.role_changed
    assert "Audit log intact: 4 entries in " in run.stdout
    db = sqlite3.connect(tmp_path / "db.sqlite3")
    for sql in (f"UPDATE {TABLE} SET actor = 'x'", f"DELETE FROM {TABLE}"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    groups = db.execute("SELECT g.name FROM auth_group g JOIN auth_user_groups ug ON ug.group_id = g.id").fetchall()
    assert groups == [("Auditors",)]


def test_the_auditors_group_may_view_and_export_and_decide_nothing(auditors_group):
    granted = {
        (p.content_type.app_label, p.codename) for p in auditors_group.permissions.select_related("content_type")
    }
    assert granted == {
        ("ads_write", "view_ad"),
        ("ads_write", "view_heldad"),
        ("ads_write", "view_verdict"),
        ("ads_write", "view_finding"),
        ("audit", "view_auditentry"),
        ("kernel", "view_deadletter"),
        ("kernel", "view_retailer"),
        ("kernel", "view_apikey"),
        ("ads_write", "export_ad"),
        ("ads_write", "view_appeal"),
        ("notifications", "view_webhookendpoint"),
        ("notifications", "view_webhookdelivery"),
        ("notifications", "view_reportdelivery"),
        ("auth", "view_user"),
        ("auth", "view_group"),
    }
