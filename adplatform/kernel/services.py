"""Write-side services of the kernel: retailers and their API keys; dead letters."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from adplatform.kernel.ids import new_id
from audit.services import AuditRecord, audit_record_many

from .auth import api_keys_changed
from .models import ApiKey, DeadLetter, Retailer, Scope, hash_api_key

# The longest grace period a rotation may leave the old key working.
ROTATION_GRACE_MAX = timedelta(days=7)


def retailer_create(
    *, name: str, email: str = "", report_contacts: list[str] | None = None, actor: str = "system:cli"
) -> Retailer:
    """Create a retailer. Its daily report goes to `report_contacts`, by default to its
    e-mail address: a retailer created with one gets its reports without another step."""
    if report_contacts is None:
        report_contacts = [email] if email else []
    with transaction.atomic():
        retailer = Retailer.objects.create(name=name, email=email, report_contacts=report_contacts)
        _audit(
            action="retailer.created",
            actor=actor,
            retailer_id=retailer.id,
            data={"name": name, "email": email, "report_contacts": report_contacts},
        )
    return retailer


def _audit(*, action: str, actor: str, retailer_id, data: dict) -> None:
    audit_record_many(
        records=[AuditRecord(event_id=new_id(), action=action, actor=actor, retailer_id=retailer_id, data=data)]
    )


def _key_data(key: ApiKey) -> dict:
    return {
        "key_id": str(key.id),
        "prefix": key.prefix,
        "label": key.label,
        "scopes": list(key.scopes),
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }


class ApiKeyError(Exception):
    """A key change that cannot be made; the API maps each kind to its problem type."""


class ApiKeyNotFound(ApiKeyError):
    pass


class ApiKeyInactive(ApiKeyError):
    pass


class ApiKeyScopeEscalation(ApiKeyError):
    pass


class LastKeyManager(ApiKeyError):
    pass


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    raw_key: str  # shown once: only its hash is stored


def _check_scopes(scopes, granted) -> list[str]:
    """The scopes, in Scope's order; a key may only hand on scopes it has itself."""
    requested = set(scopes)
    if unknown := requested - set(Scope.values):
        raise ApiKeyError(f"Unknown scope(s): {', '.join(sorted(unknown))}.")
    if granted is not None and (missing := requested - set(granted)):
        raise ApiKeyScopeEscalation(f"Your key cannot grant scopes it lacks: {', '.join(sorted(missing))}.")
    return [scope for scope in Scope.values if scope in requested]


def _issue(*, retailer: Retailer, label: str, scopes: list[str], expires_at) -> IssuedKey:
    prefix, raw_key = ApiKey.generate()
    key = ApiKey.objects.create(
        retailer=retailer,
        prefix=prefix,
        key_hash=hash_api_key(raw_key),
        label=label,
        scopes=scopes,
        expires_at=expires_at,
    )
    return IssuedKey(key=key, raw_key=raw_key)


def api_key_issue(
    *,
    retailer: Retailer,
    label: str = "",
    scopes=None,
    expires_at=None,
    granted_scopes=None,
    actor: str = "system:cli",
) -> IssuedKey:
    """Make a key (every scope unless told). `granted_scopes`: those of the key asking, which
    bound the new key's (None for staff and commands)."""
    scopes = _check_scopes(Scope.values if scopes is None else scopes, granted_scopes)
    with transaction.atomic():
        issued = _issue(retailer=retailer, label=label, scopes=scopes, expires_at=expires_at)
        _audit(action="api_key.created", actor=actor, retailer_id=retailer.id, data=_key_data(issued.key))
    return issued


def api_key_create(*, retailer: Retailer, label: str = "", actor: str = "system:cli", **options) -> str:
    """Create a key and return the raw key; only its hash is stored, so this is the one
    time anybody sees it."""
    return api_key_issue(retailer=retailer, label=label, actor=actor, **options).raw_key


def _locked_key(*, key_id, retailer: Retailer | None) -> ApiKey:
    # Key changes of one retailer take its row lock first, so that two revocations cannot
    # both see the other's key as the one that is left.
    keys = ApiKey.objects.select_for_update().select_related("retailer")
    if retailer is not None:
        Retailer.objects.select_for_update().filter(pk=retailer.pk).first()
        keys = keys.filter(retailer=retailer)
    key = keys.filter(pk=key_id).first()
    if key is None:
        raise ApiKeyNotFound("No API key with this id for your account.")
    return key


def api_key_update(*, retailer: Retailer, key_id, label: str, actor: str) -> ApiKey:
    with transaction.atomic():
        key = _locked_key(key_id=key_id, retailer=retailer)
        if key.label != label:
            before = key.label
            key.label = label
            key.save(update_fields=["label"])
            _audit(
                action="api_key.updated",
                actor=actor,
                retailer_id=retailer.id,
                data={"key_id": str(key.id), "prefix": key.prefix, "label": label, "label_before": before},
            )
    return key


def api_key_revoke(*, key_id, actor: str, retailer: Retailer | None = None, allow_lockout: bool = False) -> ApiKey:
    """Revoke a key: refused by every web process from the next request on (auth.py).
    Revoking a revoked key changes nothing. With `retailer` (the API), the key must be
    theirs, and the last active key with the `keys` scope is kept unless `allow_lockout`:
    without one the retailer can manage no key until staff issue one (`api_keys create`)."""
    with transaction.atomic():
        key = _locked_key(key_id=key_id, retailer=retailer)
        if key.revoked_at is not None:
            return key
        now = timezone.now()
        if retailer is not None and not allow_lockout and Scope.KEYS in key.scopes and key.is_active(now):
            managers = [
                other
                for other in ApiKey.objects.filter(retailer=retailer, revoked_at__isnull=True).exclude(pk=key.pk)
                if Scope.KEYS in other.scopes and other.is_active(now)
            ]
            if not managers:
                raise LastKeyManager(
                    "This is your last active key with the `keys` scope; make another first, or send allow_lockout=true."
                )
        key.revoked_at = now
        key.save(update_fields=["revoked_at"])
        _audit(
            action="api_key.revoked",
            actor=actor,
            retailer_id=key.retailer_id,
            data={"key_id": str(key.id), "prefix": key.prefix, "allow_lockout": allow_lockout},
        )
        api_keys_changed()
    return key


def api_key_rotate(
    *,
    retailer: Retailer,
    key_id,
    grace: timedelta,
    actor: str,
    expires_at=None,
    granted_scopes=None,
) -> IssuedKey:
    """A new key with the old one's label and scopes; the old key keeps working for `grace`
    (0 to ROTATION_GRACE_MAX), then it expires. An old key that
    expires sooner keeps its own expiry."""
    if not timedelta(0) <= grace <= ROTATION_GRACE_MAX:
        raise ApiKeyError(f"The grace period is 0 to {int(ROTATION_GRACE_MAX.total_seconds())} seconds.")
    with transaction.atomic():
        old = _locked_key(key_id=key_id, retailer=retailer)
        now = timezone.now()
        if not old.is_active(now) or old.replaced_by_id is not None:
            raise ApiKeyInactive(f"Key {old.prefix} is {old.status if not old.replaced_by_id else 'rotated already'}.")
        scopes = _check_scopes(old.scopes, granted_scopes)
        issued = _issue(retailer=retailer, label=old.label, scopes=scopes, expires_at=expires_at)
        old.expires_at = min(filter(None, [old.expires_at, now + grace]))
        old.replaced_by = issued.key
        old.save(update_fields=["expires_at", "replaced_by"])
        _audit(
            action="api_key.rotated",
            actor=actor,
            retailer_id=retailer.id,
            data={
                "key_id": str(old.id),
                "prefix": old.prefix,
                "expires_at": old.expires_at.isoformat(),
                "grace_seconds": int(grace.total_seconds()),
                "new_key": _key_data(issued.key),
            },
        )
        api_keys_changed()  # the old key's new expiry must reach every process's cache
    return issued


def retailer_set_active(*, retailer: Retailer, active: bool, actor: str) -> Retailer:
    """Deactivate a retailer (every key of it refused at once, on every web process) or
    reactivate it (its keys that are not revoked or expired work again)."""
    with transaction.atomic():
        retailer = Retailer.objects.select_for_update().get(pk=retailer.pk)
        if retailer.is_active == active:
            return retailer
        retailer.is_active = active
        retailer.save(update_fields=["is_active"])
        _audit(
            action="retailer.activated" if active else "retailer.deactivated",
            actor=actor,
            retailer_id=retailer.id,
            data={"name": retailer.name},
        )
        api_keys_changed()
    return retailer


@dataclass
class ReplayOutcome:
    replayed: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # dead letter id -> why


def dead_letter_replay(*, ids: list[int], actor: str = "system:cli") -> ReplayOutcome:
    """Re-publish the original task of each dead letter with its original arguments, mark
    the letter replayed and audit it. Replaying again is harmless: every consumer is
    idempotent. A letter whose message could not be decoded, or whose task this code does
    not have, is skipped with the reason. Raises if the broker is unreachable (the letters
    published before that are replayed again next time, which is harmless too)."""
    from adplatform.celery import app

    app.loader.import_default_modules()  # outside a worker the task modules are not imported yet
    outcome = ReplayOutcome()
    with transaction.atomic():
        letters = list(DeadLetter.objects.select_for_update().filter(id__in=ids).order_by("id"))
        for missing in sorted(set(ids) - {letter.id for letter in letters}):
            outcome.skipped[missing] = "no such dead letter"
        replayable = []
        for letter in letters:
            if not letter.task_name:
                outcome.skipped[letter.id] = "the message could not be decoded; nothing to replay"
            elif letter.task_name not in app.tasks:
                outcome.skipped[letter.id] = f"unknown task {letter.task_name!r}"
            else:
                replayable.append(letter)
        if not replayable:
            return outcome
        # One round trip for all of them (a kombu publish batch), not one per letter while
        # their rows stay locked.
        with app.producer_or_acquire() as producer, producer.batch():
            replayed = [
                (letter, app.send_task(letter.task_name, args=letter.args, kwargs=letter.kwargs, producer=producer).id)
                for letter in replayable
            ]
        DeadLetter.objects.filter(id__in=[letter.id for letter, _ in replayed]).update(replayed_at=timezone.now())
        audit_record_many(
            records=[
                AuditRecord(
                    event_id=new_id(),
                    action="dead_letter.replayed",
                    actor=actor,
                    data={"dead_letter_id": letter.id, "task_name": letter.task_name, "task_id": task_id},
                )
                for letter, task_id in replayed
            ]
        )
    outcome.replayed.extend(letter.id for letter, _ in replayed)
    return outcome
