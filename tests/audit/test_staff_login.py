"""Staff sign-in: lockout per (username, address), audited failures and lockouts, unlocking,
a TOTP second factor, password rules, session idle expiry, no password on the command line."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEntry
from audit.staff_login import client_ip

pytestmark = pytest.mark.django_db
RIGHT, WRONG = "correct-horse-battery", "wrong-horse-battery"


def log_in(client, username, password, address, **extra):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/", **extra},
        REMOTE_ADDR=address,
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def command(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def actions():
    return list(AuditEntry.objects.filter(action__startswith="staff.").values_list("action", "data"))


def test_ten_failures_from_one_address_lock_that_address_out_only(client, auditor):
    for _ in range(9):
        assert log_in(client, "alice", WRONG, "10.0.0.1").status_code == 200  # the form again, with an error
    assert log_in(client, "alice", WRONG, "10.0.0.1").status_code == 429  # the 10th locks
    # The right password, from the same address: refused.
    locked = log_in(client, "alice", RIGHT, "10.0.0.1")
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    # From elsewhere the reviewer still gets in: nobody can lock her out from afar.
    assert signed_in(log_in(client, "alice", RIGHT, "10.0.0.2"))
    client.logout()
    assert log_in(client, "alice", RIGHT, "10.0.0.1").status_code == 429  # still locked there

    logged = actions()
    failures = [data for action, data in logged if action == "staff.login_failed"]
    assert len(failures) == 12 and failures[0] == {"username": "alice", "ip_address": "10.0.0.1", "locked_out": False}
    assert failures[9]["locked_out"] and failures[10]["locked_out"]  # the 10th locks; the 11th meets the lock
    assert [data for action, data in logged if action == "staff.locked_out"] == [
        {"username": "alice", "ip_address": "10.0.0.1", "failures": 10}
    ]
    assert all(entry.actor == "system:login" for entry in AuditEntry.objects.filter(action="staff.login_failed"))


def test_nine_failures_do_not_lock(client, auditor):
    for _ in range(9):
        log_in(client, "alice", WRONG, "10.0.0.1")
    assert signed_in(log_in(client, "alice", RIGHT, "10.0.0.1"))
    assert not [a for a, _ in actions() if a == "staff.locked_out"]


def test_an_operator_unlocks_and_it_is_audited(client, auditor):
    for _ in range(10):
        log_in(client, "alice", WRONG, "10.0.0.1")
    assert log_in(client, "alice", RIGHT, "10.0.0.1").status_code == 429
    out = command("unlock_staff", "--username", "alice", "--ip", "10.0.0.1", "--by", "staff:olga")
    assert "Unlocked alice from 10.0.0.1 (1 lockout record(s) removed)" in out
    assert signed_in(log_in(client, "alice", RIGHT, "10.0.0.1"))
    unlocked = AuditEntry.objects.get(action="staff.unlocked")
    assert unlocked.actor == "staff:olga"
    assert unlocked.data == {"username": "alice", "ip_address": "10.0.0.1", "records_removed": 1}


@pytest.mark.parametrize(
    "proxies, forwarded, expected",
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no proxy: the header is the client's say, ignored
        (1, "198.51.100.7, 203.0.113.9", "203.0.113.9"),  # the proxy's entry, not the client's own
        (2, "198.51.100.7, 203.0.113.9, 10.1.1.1", "203.0.113.9"),
        (1, "", "10.0.0.1"),
    ],
)
def test_the_address_is_the_one_the_trusted_proxy_saw(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_the_second_factor_is_required_when_on(client, auditor, settings):
    settings.STAFF_REQUIRE_2FA = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a wrong code would hold the device back for a second
    # A password alone does not open the admin, neither at login nor for a session without a device.
    page = log_in(client, "alice", RIGHT, "10.0.0.1")
    assert page.status_code == 200 and "otp_token" in page.content.decode()
    client.force_login(auditor)
    assert client.get("/admin/").status_code == 302
    client.logout()

    out = command("enrol_staff_totp", "--username", "alice")
    uri = out.split("URI:")[1].split()[0]
    assert uri.startswith("otpauth://totp/") and "secret=" in uri and "issuer=adplatform" in uri
    device = TOTPDevice.objects.get(user=auditor)
    assert out.split("Secret:")[1].split()[0] in uri
    assert AuditEntry.objects.get(action="staff.totp_enrolled").data["username"] == "alice"
    assert "secret" not in str(AuditEntry.objects.get(action="staff.totp_enrolled").data).lower()

    assert not signed_in(
        log_in(client, "alice", RIGHT, "10.0.0.1", otp_device=device.persistent_id, otp_token="000000")
    )
    token = f"{totp(device.bin_key):06d}"
    assert signed_in(log_in(client, "alice", RIGHT, "10.0.0.1", otp_device=device.persistent_id, otp_token=token))
    assert client.get("/admin/").status_code == 200
    with pytest.raises(CommandError, match="has a TOTP device already"):
        command("enrol_staff_totp", "--username", "alice")


def test_a_session_ends_after_eight_idle_hours_and_each_request_renews_it(client, auditor):
    assert signed_in(log_in(client, "alice", RIGHT, "10.0.0.1"))
    session = Session.objects.get()
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() + timedelta(minutes=1))
    page = client.get("/admin/")
    assert page.status_code == 200 and page.cookies["sessionid"]["max-age"] == 8 * 3600
    renewed = Session.objects.get().expire_date - timezone.now()
    assert timedelta(hours=7, minutes=59) < renewed <= timedelta(hours=8)
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/admin/").status_code == 302  # idle too long: sign in again


@pytest.mark.parametrize(
    "password, message",
    [
        ("password123", "too common"),
        ("48213957", "entirely numeric"),
        ("carol-smith", "too similar to the username"),
        ("short", "too short"),
    ],
)
def test_auditor_passwords_pass_all_four_validators(auditors_group, password, message):
    with pytest.raises(CommandError, match=message):
        command("create_auditor", "--username", "carol-smith", "--password-stdin", stdin=io.StringIO(password + "\n"))
    assert not get_user_model().objects.filter(username="carol-smith").exists()


def test_create_auditor_asks_for_the_password_twice_and_takes_none_as_an_argument(auditors_group, monkeypatch):
    answers = iter(["first-horse-battery", "first-horse-battery", "one-horse-battery", "another-horse-battery"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert "Created auditor carol" in command("create_auditor", "--username", "carol")
    assert get_user_model().objects.get(username="carol").check_password("first-horse-battery")
    with pytest.raises(CommandError, match="The two passwords differ"):
        command("create_auditor", "--username", "carol")
    with pytest.raises(CommandError, match="unrecognized arguments: --password"):
        command("create_auditor", "--username", "carol", "--password", "in-the-process-list")
