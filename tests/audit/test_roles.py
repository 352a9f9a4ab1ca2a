"""Staff roles hold server-side: Reviewers decide, Auditors read and export but decide
nothing, Operators run dead letters, retailers and keys. Every staff login, role change and
user creation is in the audit log; `create_staff` asks for the password."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command

from adplatform.kernel.models import DeadLetter
from ads_write.models import Ad
from audit.models import AuditEntry
from tests.audit.test_commands import signs_in
from tests.conftest import AUDITOR_PASSWORD
from tests.factories import held_ad

pytestmark = pytest.mark.django_db

HELD = "/admin/ads_write/heldad/"


def actions(user, *groups) -> list[tuple]:
    return list(
        AuditEntry.objects.filter(action__in=groups)
        .order_by("sequence")
        .values_list("action", "actor", "data__username")
    )


def test_each_role_has_its_own_permissions(reviewer, auditor, operator):
    assert reviewer.has_perm("ads_write.decide_ad") and reviewer.has_perm("ads_write.export_ad")
    assert not reviewer.has_perm("kernel.change_deadletter")
    assert not auditor.has_perm("ads_write.decide_ad")
    assert auditor.has_perm("ads_write.export_ad") and auditor.has_perm("kernel.view_apikey")
    assert auditor.has_perm("audit.view_auditentry") and not auditor.has_perm("kernel.change_retailer")
    assert operator.has_perm("kernel.change_deadletter") and operator.has_perm("kernel.change_retailer")
    assert operator.has_perm("kernel.change_apikey") and not operator.has_perm("ads_write.decide_ad")
    assert not operator.has_perm("ads_write.view_ad")


def test_a_forged_decision_by_an_auditor_is_refused_and_decides_nothing(client, auditor, retailer):
    ad = held_ad(retailer)
    client.force_login(auditor)
    page = client.get(HELD).content.decode()
    assert "approve_held" not in page and "reject_held" not in page  # not offered
    for step in ({"index": "0"}, {"apply": "1", "reason": "I decide and then audit myself."}):
        response = client.post(HELD, {"action": "approve_held", "_selected_action": [str(ad.id)], **step})
        assert response.status_code == 403
    assert Ad.objects.get(id=ad.id).status == "needs_review"
    assert not AuditEntry.objects.filter(action="ad.decided").exists()


def test_operator_actions_are_neither_offered_to_nor_run_for_an_auditor(client, auditor, operator, retailer):
    letter = DeadLetter.objects.create(task_name="ads_write.tasks.process_submissions_task", error="PoisonMessage")
    client.force_login(auditor)
    assert "replay_dead_letters" not in client.get("/admin/kernel/deadletter/").content.decode()
    assert "change_report_settings" not in client.get("/admin/kernel/retailer/").content.decode()
    forged = client.post(
        "/admin/kernel/deadletter/", {"action": "replay_dead_letters", "index": "0", "_selected_action": [letter.id]}
    )
    assert forged.status_code == 403
    forged = client.post(
        "/admin/kernel/retailer/",
        {"action": "change_report_settings", "apply": "1", "_selected_action": [retailer.id], "timezone": "Asia/Tokyo"},
    )
    assert forged.status_code == 403
    letter.refresh_from_db()
    retailer.refresh_from_db()
    assert letter.replayed_at is None and retailer.timezone == "UTC"
    client.force_login(operator)
    assert "replay_dead_letters" in client.get("/admin/kernel/deadletter/").content.decode()
    assert "change_report_settings" in client.get("/admin/kernel/retailer/").content.decode()


def test_create_staff_prompts_twice_creates_then_changes_the_role_audited(staff_groups, monkeypatch):
    answers = iter(["a-long-password-1", "a-long-password-1"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    out = io.StringIO()
    call_command("create_staff", "--username", "dora", "--role", "reviewer", stdout=out)
    assert "Created reviewer dora." in out.getvalue()
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password-2\n"))
    call_command("create_staff", "--username", "dora", "--role", "auditor", "--password-stdin", stdout=out)
    assert "Updated auditor dora (was: Reviewers)." in out.getvalue()
    user = get_user_model().objects.get(username="dora")
    assert [g.name for g in user.groups.all()] == ["Auditors"] and user.is_staff and not user.is_superuser
    assert signs_in("dora", "a-long-password-2") == user
    entries = AuditEntry.objects.filter(action__startswith="staff.").order_by("sequence")
    assert [(e.action, e.actor, e.data.get("role"), e.data.get("to")) for e in entries] == [
        ("staff.created", "system:cli", "reviewer", None),
        ("staff.role_changed", "system:cli", None, ["Reviewers"]),
        ("staff.updated", "system:cli", "auditor", None),
        ("staff.role_changed", "system:cli", None, ["Auditors"]),
    ]
    assert not any("password" in str(e.data) for e in entries)


def test_create_staff_refuses_different_passwords_and_a_superuser(staff_groups, monkeypatch):
    answers = iter(["a-long-password-1", "another-password-2"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="differ"):
        call_command("create_staff", "--username", "dora", "--role", "reviewer")
    get_user_model().objects.create_superuser("root", password="root-password-1")
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password-1\n"))
    with pytest.raises(CommandError, match="superuser"):
        call_command("create_staff", "--username", "root", "--role", "reviewer", "--password-stdin")
    assert not get_user_model().objects.filter(username="dora").exists()


def test_createsuperuser_a_group_change_and_a_login_are_audited(client, staff_groups):
    call_command("createsuperuser", "--username", "root", "--email", "root@example.com", "--noinput")
    user = get_user_model().objects.get(username="root")
    user.groups.add(Group.objects.get(name="Operators"))
    Group.objects.get(name="Reviewers").user_set.add(user)
    user.groups.remove(Group.objects.get(name="Operators"))
    user.set_password(AUDITOR_PASSWORD)
    user.save()
    # The admin's sign-in (axes needs the request that client.login does not pass).
    assert client.post("/admin/login/", {"username": "root", "password": AUDITOR_PASSWORD}).status_code == 302
    entries = AuditEntry.objects.filter(action__in=["user.created", "staff.role_changed", "staff.login"])
    assert [
        (e.action, e.actor, e.data["username"], e.data.get("added"), e.data.get("removed"))
        for e in entries.order_by("sequence")
    ] == [
        ("user.created", "system:cli", "root", None, None),
        ("staff.role_changed", "system:cli", "root", ["Operators"], None),
        ("staff.role_changed", "system:cli", "root", ["Reviewers"], None),
        ("staff.role_changed", "system:cli", "root", None, ["Operators"]),
        ("staff.login", "staff:root", "root", None, None),
    ]


def test_privileges_given_outside_the_roles_are_audited_too(reviewer):
    """A superuser in the user admin can also flip the flags and give permissions one by one."""
    replay = Permission.objects.get(content_type__app_label="kernel", codename="change_deadletter")
    reviewer.is_superuser = True
    reviewer.save()
    reviewer.user_permissions.add(replay)
    replay.user_set.remove(reviewer)
    reviewer.is_active = False
    reviewer.save(update_fields=["is_active"])
    reviewer.save(update_fields=["last_login"])  # no privilege: nothing recorded
    entries = AuditEntry.objects.filter(action__in=["staff.role_changed", "staff.permissions_changed"])
    assert [
        (e.action, e.actor, e.data["username"], e.data.get("flags"), e.data.get("added"), e.data.get("removed"))
        for e in entries.order_by("sequence")
    ][1:] == [  # after create_staff's own
        ("staff.role_changed", "system:cli", "rita", {"is_superuser": {"from": False, "to": True}}, None, None),
        ("staff.permissions_changed", "system:cli", "rita", None, ["kernel.change_deadletter"], None),
        ("staff.permissions_changed", "system:cli", "rita", None, None, ["kernel.change_deadletter"]),
        ("staff.role_changed", "system:cli", "rita", {"is_active": {"from": True, "to": False}}, None, None),
    ]
