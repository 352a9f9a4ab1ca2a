from django.db import models
from django.utils import timezone

from adplatform.kernel.encryption import EncryptedTextField
from adplatform.kernel.ids import new_id
from adplatform.kernel.models import Retailer

WEBHOOK_EVENTS = (
    "ad.approved",
    "ad.rejected",
    "ad.needs_review",
    "ad.decided",
    "ad.appeal_decided",
    # The retailer's own commands (docs/ad-states.md): a change once judged, pause, resume, withdraw.
    "ad.changed",
    "ad.paused",
    "ad.resumed",
    "ad.withdrawn",
)


class WebhookEndpoint(models.Model):
    """A retailer's URL that receives signed POSTs for the events it subscribed to.

    `secret` is stored encrypted (adplatform/kernel/encryption.py): the platform must sign every
    delivery with it (HMAC needs the key itself, a hash would not do), so it is kept readable,
    but only with a key held outside the database. It is shown to the retailer once, at creation."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    retailer = models.ForeignKey(Retailer, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2048)
    events = models.JSONField(default=list, help_text="Subset of " + ", ".join(WEBHOOK_EVENTS))
    secret = EncryptedTextField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.retailer} → {self.url}"


class WebhookDelivery(models.Model):
    """One event for one endpoint, with its retry schedule. Created by the projection in the
    transaction that applied the ad's new state (so no final state is missed and none is
    announced twice); sent by tasks that claim due rows with SKIP LOCKED."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    id = models.BigAutoField(primary_key=True)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(help_text="Stable per ad version: the same on every retry and for every endpoint.")
    event_type = models.CharField(max_length=32)
    ad_id = models.UUIDField()
    version = models.PositiveIntegerField()
    body = models.TextField(help_text="The exact JSON sent (signed as is).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "ad_id", "version"], name="webhook_delivery_once_per_version")
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_due", condition=models.Q(status="pending")),
            models.Index(fields=["event_id"], name="webhook_delivery_event"),
            models.Index(fields=["endpoint", "-id"], name="webhook_delivery_endpoint"),
        ]

    def __str__(self):
        return f"{self.event_type} {self.ad_id} v{self.version} → {self.endpoint_id} ({self.status})"


class ReportDelivery(models.Model):
    """The daily failed-ads report of one retailer for one (retailer-local) day: at most one
    per retailer and day. A worker claims the row, sends, then marks it sent; a claim older
    than REPORT_CLAIM_TIMEOUT (the worker died) may be taken over."""

    class Status(models.TextChoices):
        CLAIMED = "claimed"
        FAILED = "failed"
        SENT = "sent"

    id = models.BigAutoField(primary_key=True)
    retailer = models.ForeignKey(Retailer, on_delete=models.CASCADE, related_name="report_deliveries")
    date = models.DateField(help_text="The day reported, in the retailer's time zone.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CLAIMED)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    rejected_count = models.PositiveIntegerField(default=0)
    review_count = models.PositiveIntegerField(default=0)
    attachment_name = models.CharField(max_length=200, blank=True)
    attachment_bytes = models.PositiveBigIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "report deliveries"
        ordering = ["-date", "retailer"]
        constraints = [models.UniqueConstraint(fields=["retailer", "date"], name="report_delivery_once_per_day")]

    def __str__(self):
        return f"{self.retailer} {self.date} ({self.status})"
