"""Compliance staff sign-in: the audit trail of failed logins and lockouts (django-axes),
unlocking, and TOTP enrolment (django-otp). Services here change state and audit it in the
same transaction, as every service does."""

import base64

from axes.signals import user_locked_out
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django_otp.plugins.otp_totp.models import TOTPDevice

from adplatform.kernel.ids import new_id

from .services import AuditRecord, audit_record_many

LOGIN_ACTOR = "system:login"


class StaffError(ValueError):
    pass


def client_ip(request) -> str | None:
    """The address a login comes from (django-axes' AXES_CLIENT_IP_CALLABLE): REMOTE_ADDR, or
    behind TRUSTED_PROXY_COUNT proxies that each append the address they saw to
    X-Forwarded-For, the entry the outermost proxy wrote. Entries left of it are the client's
    own say and are ignored: trusting them would let anyone pick the address they lock out."""
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR")


def _audit(*, action: str, actor: str, data: dict) -> None:
    with transaction.atomic():
        audit_record_many(records=[AuditRecord(event_id=new_id(), action=action, actor=actor, data=data)])


@receiver(user_login_failed, dispatch_uid="audit.staff.login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    # django-axes' receiver ran first (its app comes first): the request says whether this
    # attempt was refused by a lockout, or met one.
    _audit(
        action="staff.login_failed",
        actor=LOGIN_ACTOR,
        data={
            "username": str(credentials.get("username", ""))[:150],
            "ip_address": getattr(request, "axes_ip_address", None),
            "locked_out": bool(getattr(request, "axes_locked_out", False)),
        },
    )


@receiver(user_locked_out, dispatch_uid="audit.staff.locked_out")
def _locked_out(sender, request, username, ip_address, **kwargs):
    # django-axes signals again at every attempt during a lockout; only the failure that
    # locks has counted its failures (axes_failures_since_start is None otherwise).
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is None:
        return
    _audit(
        action="staff.locked_out",
        actor=LOGIN_ACTOR,
        data={"username": username, "ip_address": ip_address, "failures": failures},
    )


def staff_unlock(*, username: str, ip_address: str | None = None, actor: str = "system:cli") -> int:
    """Lift the login lockout of a username (from one address, or from all). Returns the
    lockout records removed; audited even when there were none."""
    with transaction.atomic():
        removed = axes_reset(username=username, ip=ip_address)
        audit_record_many(
            records=[
                AuditRecord(
                    event_id=new_id(),
                    action="staff.unlocked",
                    actor=actor,
                    data={"username": username, "ip_address": ip_address, "records_removed": removed},
                )
            ]
        )
    return removed


def staff_totp_enrol(*, username: str, replace: bool = False, actor: str = "system:cli") -> TOTPDevice:
    """Give a staff user a TOTP device (confirmed at once: the secret reaches them only
    through the one-time print of the enrolling command). With `replace`, their other devices
    go; without, having one already is an error."""
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username, is_staff=True).first()
        if user is None:
            raise StaffError(f"No staff user {username!r}.")
        existing = TOTPDevice.objects.filter(user=user)
        if existing.exists() and not replace:
            raise StaffError(f"{username} has a TOTP device already; --replace makes a new one.")
        removed = existing.delete()[0] if replace else 0
        device = TOTPDevice.objects.create(user=user, name="admin", confirmed=True)
        audit_record_many(
            records=[
                AuditRecord(
                    event_id=new_id(),
                    action="staff.totp_enrolled",
                    actor=actor,
                    data={"user_id": user.pk, "username": username, "device_id": device.pk, "replaced": removed},
                )
            ]
        )
    return device


def totp_secret(device: TOTPDevice) -> str:
    """The device's key in the base32 form authenticator apps take by hand."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")
