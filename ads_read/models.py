from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce


class AdView(models.Model):
    """One row per ad with everything a reader shows. Written only by projections, which
    apply a row only when its `version` is newer than the one stored. It copies the ad's
    columns of the field registry (ads_write/fields.py, READ_COLUMNS; a test holds the two
    together) and adds what the read side derives."""

    id = models.UUIDField(primary_key=True)
    retailer_id = models.UUIDField()
    retailer_name = models.CharField(max_length=200)
    external_ref = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16)
    headline = models.CharField(max_length=90)
    description = models.CharField(max_length=300)
    landing_url = models.CharField(max_length=2048)
    landing_domain = models.CharField(max_length=255)
    display_url = models.CharField(max_length=255, blank=True)
    country = models.CharField(max_length=2)
    language = models.CharField(max_length=2)
    category = models.CharField(max_length=32)
    price_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    price_currency = models.CharField(max_length=3, blank=True)
    target_min_age = models.PositiveSmallIntegerField(null=True)
    starts_at = models.DateTimeField(null=True)
    ends_at = models.DateTimeField(null=True)
    disclosure = models.CharField(max_length=500, blank=True)
    advertiser_license = models.CharField(max_length=64, blank=True)
    paid_for_by = models.CharField(max_length=200, blank=True)
    findings = models.JSONField(default=list)
    finding_codes = models.CharField(max_length=1000, blank=True, help_text="Space-separated codes, for filtering.")
    ruleset_version = models.CharField(max_length=32, blank=True)
    submitted_at = models.DateTimeField()
    reviewed_at = models.DateTimeField(null=True)
    decided_at = models.DateTimeField(null=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decision_reason = models.TextField(blank=True)
    version = models.PositiveIntegerField()
    appeal = models.JSONField(
        null=True, blank=True, help_text="The ad's latest appeal as the API shows it (ads_read.serializers)."
    )
    paused = models.BooleanField(default=False)
    withdrawn_at = models.DateTimeField(null=True)
    withdrawn_from = models.CharField(max_length=16, blank=True, default="", db_default="")
    change = models.JSONField(
        null=True, blank=True, help_text="The change being judged, as the API shows it (ads_read.serializers)."
    )
    action = models.CharField(
        max_length=16, blank=True, help_text="The retailer's command that made this version, if one did (webhooks)."
    )
    previous_status = models.CharField(
        max_length=16,
        blank=True,
        help_text="The status before the last change ('' for a new row): the projection counts the move.",
    )
    projected_at = models.DateTimeField()
    # The answer by id, rendered once by the projection (serializers.stored_document): reads
    # send it as it is, and list pages join them, instead of building each document anew on
    # every request. Null on rows projected before it existed: those are rendered from the
    # columns when read, until `manage.py rebuild_read_model` stores theirs.
    document = models.BinaryField(
        null=True, editable=False, help_text="The ad's API document (UTF-8 JSON) as the API answers it by id."
    )

    class Meta:
        indexes = [
            models.Index(fields=["retailer_id", "-id"], name="adview_retailer_id"),
            models.Index(fields=["retailer_id", "status", "-id"], name="adview_retailer_status"),
            models.Index(fields=["retailer_id", "submitted_at"], name="adview_retailer_submitted"),
            # The daily report: a retailer's ads by status and the time they reached it.
            models.Index(
                F("retailer_id"), F("status"), Coalesce("decided_at", "reviewed_at"), name="adview_retailer_reached"
            ),
        ]

    def __str__(self):
        return f"{self.headline} ({self.status})"


class RetailerDailyStats(models.Model):
    """How many of a retailer's ads submitted on a day (UTC) are in each status now. Written
    only by projections, which move the counts by the rows they apply (stats.py)."""

    id = models.BigAutoField(primary_key=True)
    retailer_id = models.UUIDField()
    day = models.DateField()
    status = models.CharField(max_length=16)
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["retailer_id", "day", "status"], name="daily_stats_per_status")]
        verbose_name_plural = "retailer daily stats"

    def __str__(self):
        return f"{self.retailer_id} {self.day} {self.status}: {self.count}"
