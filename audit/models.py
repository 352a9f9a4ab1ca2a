from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """One command or state change. Append-only (database triggers refuse UPDATE, DELETE and
    TRUNCATE) and hash-chained: `hash` covers every other column, `prev_hash` included, so
    any edit breaks the chain from there on; it is an HMAC under a key the database does not
    hold (`key_id` names it), so an edit cannot be rehashed either (audit.chain).

    The log is several chains (`chain`), each with its own lock, so writers of different
    chains do not wait for each other; each chain links its own entries in sequence order."""

    sequence = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True, help_text="The event this entry records; at most one entry per event.")
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(
        max_length=200, help_text="retailer:<id>/key:<prefix>, staff:<username> or system:<component>"
    )
    action = models.CharField(max_length=64)
    ad_id = models.UUIDField(null=True, blank=True)
    retailer_id = models.UUIDField(null=True, blank=True, db_index=True)
    data = models.JSONField(default=dict)
    chain = models.PositiveSmallIntegerField(default=0, db_default=0, help_text="The chain this entry links into.")
    key_id = models.CharField(
        max_length=32,
        blank=True,
        default="",
        db_default="",
        help_text="The AUDIT_HMAC_KEYS key the hash is keyed with; empty: written before keys, plain SHA-256.",
    )
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["sequence"]
        verbose_name_plural = "audit entries"
        # One per admin filter and for the per-ad timeline, each ending in sequence so the
        # filtered list comes out of the index already in order.
        indexes = [
            models.Index(fields=["ad_id", "sequence"], name="audit_ad_sequence"),
            models.Index(fields=["action", "sequence"], name="audit_action_sequence"),
            models.Index(fields=["actor", "sequence"], name="audit_actor_sequence"),
            models.Index(fields=["occurred_at"], name="audit_occurred_at"),
            # Each chain's head (the writer) and its entries in order (the verifier).
            models.Index(fields=["chain", "sequence"], name="audit_chain_sequence"),
        ]

    def __str__(self):
        return f"#{self.sequence} {self.action}"
