from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """One command or state change. Append-only and hash-chained: `hash` covers the entry's
    canonical form and the previous entry's hash, so any edit breaks the chain from there on."""

    sequence = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True, help_text="The event this entry records; at most one entry per event.")
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=200, help_text="retailer:<id>/key:<prefix>, staff:<username> or system:<component>")
    action = models.CharField(max_length=64, db_index=True)
    ad_id = models.UUIDField(null=True, blank=True, db_index=True)
    retailer_id = models.UUIDField(null=True, blank=True, db_index=True)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["sequence"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"#{self.sequence} {self.action}"
