import hashlib
import secrets

from django.db import models
from django.utils import timezone as django_timezone

from .ids import new_id

API_KEY_PREFIX = "adp"


class Scope(models.TextChoices):
    """What an API key may do; every API operation needs one (adplatform/kernel/scopes.py)."""

    READ = "read", "Read ads, stats, reports, settings and webhooks"
    SUBMIT = "submit", "Submit ads"
    SETTINGS = "settings", "Change notification settings and webhooks"
    KEYS = "keys", "Manage API keys"


def all_scopes() -> list[str]:
    # Keys made before scopes existed, and by the staff's commands, may do everything.
    return list(Scope.values)


def hash_api_key(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough (no password stretching).
    return hashlib.sha256(raw_key.encode()).hexdigest()


class Retailer(models.Model):
    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    name = models.CharField(max_length=200, unique=True)
    email = models.EmailField(blank=True)
    report_contacts = models.JSONField(
        default=list, blank=True, help_text="E-mail addresses for the daily failed-ads report."
    )
    timezone = models.CharField(max_length=64, default="UTC")
    velocity_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Submissions per 60 s before FRAUD.VELOCITY; empty = ruleset default."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="API requests per minute; empty = settings default."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        permissions = [("deactivate_retailer", "Can deactivate or reactivate a retailer")]

    def __str__(self):
        return self.name


class ApiKey(models.Model):
    """A retailer's API key, stored as its SHA-256; the raw key is shown once, at creation."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    retailer = models.ForeignKey(Retailer, on_delete=models.CASCADE, related_name="api_keys")
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    label = models.CharField(max_length=100, blank=True)
    scopes = models.JSONField(default=all_scopes, help_text="What the key may do: read, submit, settings, keys.")
    created_at = models.DateTimeField(default=django_timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Refused from then on; set by a rotation too.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Written at most once a minute per key (auth.py), so it is accurate to about a minute.
    last_used_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces", help_text="Its rotation."
    )

    class Meta:
        permissions = [("revoke_apikey", "Can revoke an API key")]

    def __str__(self):
        return f"{self.retailer} {API_KEY_PREFIX}_{self.prefix}_…"

    def is_active(self, now=None) -> bool:
        now = now or django_timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.is_active() else "expired"

    @staticmethod
    def generate() -> tuple[str, str]:
        """A new (prefix, raw_key) pair; the prefix finds the row, the rest is the secret."""
        prefix = secrets.token_hex(6)
        return prefix, f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"

    @staticmethod
    def split(raw_key: str) -> str | None:
        parts = raw_key.split("_", 2)
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not parts[1]:
            return None
        return parts[1]


class DeadLetter(models.Model):
    """A pipeline message that could not be processed: retries ran out, or it could not be
    decoded. Staff see it in the admin and can replay it (replay is idempotent, since every
    consumer is)."""

    id = models.BigAutoField(primary_key=True)
    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64, blank=True)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    error = models.TextField()
    traceback = models.TextField(blank=True)
    created_at = models.DateTimeField(default=django_timezone.now, db_index=True)
    replayed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.task_name} ({self.created_at:%Y-%m-%d %H:%M})"
