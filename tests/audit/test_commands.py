"""manage.py verify_audit_chain, create_auditor, and the auditor that seed_demo makes."""

import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import RequestFactory

from audit.models import AuditEntry
from audit.selectors import audit_chain_verify
from tests.factories import audit_chain

pytestmark = pytest.mark.django_db


def command(*args, stdin: str | None = None) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **({"stdin": io.StringIO(stdin)} if stdin is not None else {}))
    return out.getvalue()


def signs_in(username, password):
    """The user, if the admin's authentication (django-axes in front) accepts the password."""
    return authenticate(RequestFactory().post("/admin/login/"), username=username, password=password)


def create_auditor(username, password) -> str:
    return command("create_auditor", "--username", username, "--password-stdin", stdin=password + "\n")


def test_verify_audit_chain_prints_a_summary_when_intact():
    audit_chain(3)
    out = command("verify_audit_chain", "--batch-size", "2")
    assert "Audit log intact: 3 entries in 1 chain, heads hash " in out
    assert audit_chain_verify().head_hash in out


def test_verify_audit_chain_fails_naming_the_first_altered_entry():
    entries = audit_chain(3)
    with connection.cursor() as cursor:  # as a superuser could: replica sessions skip the triggers
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            f"UPDATE {AuditEntry._meta.db_table} SET action = 'test.undone' WHERE sequence = %s", [entries[1].sequence]
        )
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    with pytest.raises(CommandError, match=f"broken at sequence {entries[1].sequence}: .*altered") as failure:
        command("verify_audit_chain")
    assert failure.value.returncode == 1  # what manage.py exits with


def test_create_auditor_creates_then_updates_an_audited_staff_user(auditors_group):
    assert "Created auditor carol" in create_auditor("carol", "first-password")
    assert "Updated auditor carol" in create_auditor("carol", "second-password")
    user = get_user_model().objects.get(username="carol")
    assert user.is_staff and not user.is_superuser and list(user.groups.all()) == [auditors_group]
    assert signs_in("carol", "second-password") == user
    assert not user.has_perm("ads_write.decide_ad") and user.has_perm("audit.view_auditentry")
    assert not user.has_perm("ads_write.change_ad") and not user.has_perm("kernel.change_apikey")
    entries = AuditEntry.objects.filter(action__in=["staff.created", "staff.updated"]).order_by("sequence")
    assert [(e.action, e.actor, e.data["username"], e.data["role"]) for e in entries] == [
        ("staff.created", "system:cli", "carol", "auditor"),
        ("staff.updated", "system:cli", "carol", "auditor"),
    ]
    assert not any("password" in str(e.data) for e in entries)


def test_create_auditor_refuses_a_weak_password_and_a_superuser(auditors_group):
    with pytest.raises(CommandError, match="too short"):
        create_auditor("dave", "short")
    get_user_model().objects.create_superuser("root", password="root-password")
    with pytest.raises(CommandError, match="superuser"):
        create_auditor("root", "another-password")
    assert not get_user_model().objects.filter(username="dave").exists()


def test_seed_demo_makes_the_auditor_once_and_prints_its_password_once(staff_groups):
    # staff_groups: the Auditors group as migrate makes it (a transactional test run before in this process flushed it).
    first = command("seed_demo")
    password = first.split("Auditor (shown once): auditor / ")[1].split()[0]
    assert signs_in("auditor", password).groups.filter(name="Auditors").exists()
    second = command("seed_demo")
    assert password not in second and "auditor exists (password unchanged" in second
    assert signs_in("auditor", password) is not None
