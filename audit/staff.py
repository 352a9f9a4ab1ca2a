"""Compliance staff accounts: `staff_upsert` (behind `create_staff`) puts a user in exactly
one role, and signal handlers audit what happens to staff accounts by any other way — a
login, a user created (`createsuperuser`, the admin, a shell), a change of groups, of the
user's own permissions or of its staff / superuser / active flags.

Who did it (`actor`) comes from the request when there is one (StaffActorMiddleware), else
`system:cli`."""

import contextvars
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from adplatform.kernel.ids import new_id

from .roles import ROLE_GROUPS, ROLES
from .services import AuditRecord, audit_record_many

_actor: contextvars.ContextVar[str] = contextvars.ContextVar("audit_actor", default="system:cli")
# Set while a service writes its own, complete record: the signal handlers stay quiet.
_service_records: contextvars.ContextVar[bool] = contextvars.ContextVar("audit_service_records", default=False)


class StaffError(ValueError):
    pass


@contextmanager
def acting_as(actor: str):
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


class StaffActorMiddleware:
    """Names the signed-in user as the actor of what the signal handlers record."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        with acting_as(f"staff:{user.get_username()}"):
            return self.get_response(request)


def _user_data(user) -> dict:
    return {
        "user_id": user.pk,
        "username": user.get_username(),
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "roles": sorted(user.groups.values_list("name", flat=True)) if user.pk else [],
    }


def _record(action: str, data: dict, actor: str | None = None) -> None:
    with transaction.atomic():  # inside the change's transaction when there is one
        audit_record_many(
            records=[AuditRecord(event_id=new_id(), action=action, actor=actor or _actor.get(), data=data)]
        )


def staff_upsert(
    *, username: str, role: str, password: str, actor: str = "system:cli"
) -> tuple[AbstractBaseUser, bool, list[str]]:
    """Create a staff user in `role` (reviewer | auditor | operator) or update one: set the
    password, make it active staff, and make `role` its only role group (other groups stay).
    Refuses to touch a superuser. Returns (user, created, previous role groups)."""
    username = (username or "").strip()
    if not username:
        raise StaffError("A username is required.")
    if role not in ROLES:
        raise StaffError(f"The role is one of {', '.join(ROLES)}.")
    group = Group.objects.filter(name=ROLES[role]).first()
    if group is None:
        raise StaffError(f"The {ROLES[role]} group is missing: run `manage.py migrate`.")
    User = get_user_model()
    token = _service_records.set(True)
    try:
        with transaction.atomic():
            user = User.objects.select_for_update().filter(username=username).first()
            created = user is None
            if created:
                user = User(username=username)
            elif user.is_superuser:
                raise StaffError(f"{username} is a superuser; staff in a role must not be one.")
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise StaffError(" ".join(exc.messages)) from exc
            previous = (
                [] if created else sorted(user.groups.filter(name__in=ROLE_GROUPS).values_list("name", flat=True))
            )
            user.set_password(password)
            user.is_staff, user.is_active = True, True
            user.save()
            user.groups.remove(*Group.objects.filter(name__in=ROLE_GROUPS).exclude(pk=group.pk))
            user.groups.add(group)
            records = [
                AuditRecord(
                    event_id=new_id(),
                    action="staff.created" if created else "staff.updated",
                    actor=actor,
                    data={**_user_data(user), "role": role},
                )
            ]
            if previous != [group.name]:
                records.append(
                    AuditRecord(
                        event_id=new_id(),
                        action="staff.role_changed",
                        actor=actor,
                        data={"user_id": user.pk, "username": username, "from": previous, "to": [group.name]},
                    )
                )
            audit_record_many(records=records)
    finally:
        _service_records.reset(token)
    return user, created, previous


# --- signal handlers (connected in apps.py) -------------------------------------------------
# What a user may do besides its groups: flags a superuser can flip in the user admin. Each
# change is a change of role, audited like a change of groups.
PRIVILEGE_FLAGS = ("is_staff", "is_superuser", "is_active")


def on_user_saving(sender, instance, raw=False, update_fields=None, **kwargs):
    """Keeps the user's privilege flags as stored, for on_user_saved to compare."""
    if raw or instance.pk is None or _service_records.get():
        return
    if update_fields is not None and not set(update_fields) & set(PRIVILEGE_FLAGS):
        return  # a sign-in's last_login, a password: no privilege changes
    instance._audit_flags = type(instance).objects.filter(pk=instance.pk).values(*PRIVILEGE_FLAGS).first()


def on_user_saved(sender, instance, created, raw=False, **kwargs):
    if raw or _service_records.get():
        return
    if created:
        _record("user.created", _user_data(instance))
        return
    before = instance.__dict__.pop("_audit_flags", None) or {}
    changed = {
        flag: {"from": before[flag], "to": getattr(instance, flag)}
        for flag in PRIVILEGE_FLAGS
        if flag in before and before[flag] != getattr(instance, flag)
    }
    if changed:
        _record("staff.role_changed", {**_user_data(instance), "flags": changed})


def _permission_label(permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def on_access_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    """A user's groups (its roles: `staff.role_changed`) or its own permissions
    (`staff.permissions_changed`) changed, from either side of the relation."""
    if action not in ("post_add", "post_remove", "pre_clear", "post_clear") or _service_records.get():
        return
    User = get_user_model()
    groups = model is Group or isinstance(instance, Group)
    if action == "pre_clear":  # what a clear removes is known only before it
        related = instance.user_set if reverse else (instance.groups if groups else instance.user_permissions)
        instance._audit_cleared = list(related.values_list("pk", flat=True))
        return
    if action == "post_clear":
        pk_set = set(getattr(instance, "_audit_cleared", []))
    if not pk_set:
        return
    verb = "added" if action == "post_add" else "removed"
    if reverse:  # group.user_set.add(users…), permission.user_set.add(users…)
        name = instance.name if groups else _permission_label(instance)
        pairs = [(user, [name]) for user in User.objects.filter(pk__in=pk_set)]
    elif groups:
        pairs = [(instance, sorted(Group.objects.filter(pk__in=pk_set).values_list("name", flat=True)))]
    else:
        permissions = Permission.objects.filter(pk__in=pk_set).select_related("content_type")
        pairs = [(instance, sorted(_permission_label(p) for p in permissions))]
    for user, names in pairs:
        data = {"user_id": user.pk, "username": user.get_username(), verb: names}
        if groups:
            _record("staff.role_changed", {**data, "roles": sorted(user.groups.values_list("name", flat=True))})
        else:
            _record("staff.permissions_changed", data)


def on_logged_in(sender, request, user, **kwargs):
    if user.is_staff:
        _record(
            "staff.login",
            {
                "user_id": user.pk,
                "username": user.get_username(),
                "ip": request.META.get("REMOTE_ADDR") if request else None,
            },
            actor=f"staff:{user.get_username()}",
        )
