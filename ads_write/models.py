from django.db import models
from django.utils import timezone

from adplatform.kernel.ids import new_id
from adplatform.kernel.models import Retailer


class AdStatus(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    NEEDS_REVIEW = "needs_review"
    # The retailer took the ad down for good (docs/ad-states.md): final, never a verdict.
    WITHDRAWN = "withdrawn"


FINAL_STATUSES = (AdStatus.APPROVED, AdStatus.REJECTED, AdStatus.NEEDS_REVIEW)


class Ad(models.Model):
    """A submission as the retailer sent it (after basic validation), and where it stands.

    `version` rises with every state change (1 submitted, 2 validated, 3 decided by staff, and
    each of the retailer's commands: a change accepted and judged, pause, resume, withdraw);
    projections copy it so the read side applies only newer states. The content columns are
    the last judged content: a change waits in `AdChange` until it is judged
    (docs/ad-states.md).
    """

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    # No index of its own: ad_retailer_submitted leads with it (one index entry less per ad).
    retailer = models.ForeignKey(Retailer, on_delete=models.PROTECT, related_name="ads", db_index=False)
    external_ref = models.CharField(max_length=64, blank=True)
    headline = models.CharField(max_length=90)
    description = models.CharField(max_length=300)
    landing_url = models.CharField(max_length=2048)
    display_url = models.CharField(max_length=255, blank=True)
    country = models.CharField(max_length=2)
    language = models.CharField(max_length=2)
    category = models.CharField(max_length=32)
    price_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    price_currency = models.CharField(max_length=3, blank=True)
    target_min_age = models.PositiveSmallIntegerField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    disclosure = models.CharField(max_length=500, blank=True)
    advertiser_license = models.CharField(max_length=64, blank=True)
    paid_for_by = models.CharField(max_length=200, blank=True)

    status = models.CharField(max_length=16, choices=AdStatus.choices, default=AdStatus.PENDING)
    version = models.PositiveIntegerField(default=1)
    intake_event_id = models.UUIDField(unique=True, help_text="The ad.submitted event that created it.")
    submitted_at = models.DateTimeField(default=timezone.now)
    reviewed_at = models.DateTimeField(null=True, blank=True, help_text="When detailed validation ended.")
    decided_at = models.DateTimeField(null=True, blank=True, help_text="When staff decided a held ad.")
    ruleset_version = models.CharField(max_length=32, blank=True)
    # The retailer's commands (services/changes.py). Bulk inserts (intake) leave them to the
    # database's defaults.
    paused = models.BooleanField(default=False, db_default=False, help_text="Approved but not live while paused.")
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # The daily failed-ads report still lists an ad rejected that day and withdrawn since.
    withdrawn_from = models.CharField(
        max_length=16, blank=True, default="", db_default="", help_text="The status the ad was withdrawn from."
    )
    action = models.CharField(
        max_length=16,
        blank=True,
        default="",
        db_default="",
        help_text="The retailer's command that made `action_version`: changed, paused, resumed or withdrawn.",
    )
    action_version = models.PositiveIntegerField(null=True, blank=True)
    # A command (an appeal too) changes none of the times above: without its own, the read-model
    # sweep would never see a lost pause, resume, withdraw or appeal projection of an ad judged
    # long ago.
    command_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the retailer's last command (change, pause, resume, withdraw, appeal) was stored.",
    )

    class Meta:
        indexes = [
            models.Index(fields=["status", "submitted_at"], name="ad_status_submitted"),
            models.Index(fields=["retailer", "submitted_at"], name="ad_retailer_submitted"),
            # The compliance admin's filters and search (its list is newest first). On
            # PostgreSQL, trigram indexes also back the substring search of headline and
            # landing URL (migration 0003).
            models.Index(fields=["submitted_at"], name="ad_submitted"),
            models.Index(fields=["category", "submitted_at"], name="ad_category_submitted"),
            models.Index(fields=["country", "submitted_at"], name="ad_country_submitted"),
            models.Index(fields=["external_ref"], name="ad_external_ref"),
            # The read-model sweep's time windows (with ad_submitted). Few ads are ever
            # decided by staff, so that index leaves out the rest.
            models.Index(fields=["reviewed_at"], name="ad_reviewed"),
            models.Index(fields=["decided_at"], name="ad_decided", condition=models.Q(decided_at__isnull=False)),
            models.Index(fields=["command_at"], name="ad_command", condition=models.Q(command_at__isnull=False)),
            # The review queue, oldest hold (the most overdue) first.
            models.Index(
                fields=["reviewed_at", "id"], name="ad_held_reviewed", condition=models.Q(status="needs_review")
            ),
        ]
        permissions = [
            ("decide_ad", "Can decide ads held for review and appeals"),
            ("export_ad", "Can export ads and the review queue as CSV"),
        ]

    def __str__(self):
        return f"{self.headline} ({self.status})"


class HeldAd(Ad):
    """The manual-review queue of the admin: ads that detailed validation held for review."""

    class Meta:
        proxy = True
        verbose_name = "ad held for review"
        verbose_name_plural = "ads held for review"


class Verdict(models.Model):
    """One judgement of an ad: by the rules engine after intake, or by staff on review."""

    class Source(models.TextChoices):
        ENGINE = "engine"
        STAFF = "staff"

    id = models.BigAutoField(primary_key=True)
    # No index of its own: verdict_one_per_ad_version's leads with it.
    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="verdicts", db_index=False)
    event_id = models.UUIDField(unique=True, help_text="The event this verdict answers; one verdict per event.")
    version = models.PositiveIntegerField(help_text="The ad version this verdict produced.")
    status = models.CharField(max_length=16, choices=AdStatus.choices)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.ENGINE)
    ruleset_version = models.CharField(max_length=32, blank=True)
    reviewer = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)
    # Staff decisions only; the engine's verdicts are bulk-inserted without them (hence db_default).
    reason_code = models.CharField(
        max_length=32, blank=True, default="", db_default="", help_text="From the catalogue in ads_write/review.py."
    )
    dispositions = models.JSONField(
        default=dict, db_default={}, blank=True, help_text="Finding id → upheld | overruled."
    )
    confirmed_by = models.CharField(
        max_length=150, blank=True, default="", db_default="", help_text="The second reviewer (four eyes)."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ad", "version"], name="verdict_one_per_ad_version")]
        # The admin's filters (its list is newest first).
        indexes = [
            models.Index(fields=["status", "-id"], name="verdict_status"),
            models.Index(fields=["source", "-id"], name="verdict_source"),
            models.Index(fields=["created_at"], name="verdict_created"),
        ]

    def __str__(self):
        return f"{self.ad_id} v{self.version}: {self.status}"


class Finding(models.Model):
    verdict = models.ForeignKey(Verdict, on_delete=models.CASCADE, related_name="findings")
    code = models.CharField(max_length=64, db_index=True)
    category = models.CharField(max_length=16)
    severity = models.CharField(max_length=8)
    message = models.CharField(max_length=500)
    field = models.CharField(max_length=64, blank=True)
    evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        # The admin's filters (its list is newest first).
        indexes = [
            models.Index(fields=["severity", "-id"], name="finding_severity"),
            models.Index(fields=["category", "-id"], name="finding_category"),
        ]

    # The columns of a finding as readers see it (as_dict, finding_document).
    DOCUMENT_FIELDS = ("code", "category", "severity", "message", "field", "evidence")

    def __str__(self):
        return self.code

    def as_dict(self) -> dict:
        return finding_document(**{name: getattr(self, name) for name in self.DOCUMENT_FIELDS})


def finding_document(*, code, category, severity, message, field, evidence) -> dict:
    """A stored finding as the API, the audit log and the read model show it: a finding on
    no particular field has a null field (stored blank)."""
    return {
        "code": code,
        "category": category,
        "severity": severity,
        "message": message,
        "field": field or None,
        "evidence": evidence,
    }


class OutboxMessage(models.Model):
    """An event written in the same transaction as the change (cqrs mode), published after
    commit by the relay; a periodic sweep publishes what a crash left behind."""

    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True)
    task_name = models.CharField(max_length=200)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"], name="outbox_unpublished", condition=models.Q(published_at__isnull=True)
            ),
            # The daily purge's range: rows published before the retention cutoff.
            models.Index(
                fields=["published_at"], name="outbox_published", condition=models.Q(published_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} {self.event_id}"


class ContentFingerprint(models.Model):
    """The normalised content hash of each ad (headline + description + landing domain), for
    FRAUD.DUPLICATE_CONTENT across retailers within the ruleset's window."""

    ad_id = models.UUIDField(primary_key=True)
    retailer_id = models.UUIDField()
    content_hash = models.CharField(max_length=64)
    submitted_at = models.DateTimeField()

    class Meta:
        # FRAUD.DUPLICATE_CONTENT asks, per ad, for another retailer's row of the same content
        # in a time window: two ranges of this index (retailers below and above its own).
        indexes = [
            models.Index(fields=["content_hash", "retailer_id", "submitted_at"], name="fingerprint_hash_retailer"),
            # The daily purge of rows older than the rule's window. Not the question's: analysed
            # with few distinct contents, the planner would take it for the probe and walk the
            # whole window per ad (migration 0018 has content_hash priced as unique instead).
            models.Index(fields=["submitted_at"], name="fingerprint_submitted"),
        ]

    def __str__(self) -> str:
        return f"{self.ad_id} {self.content_hash[:12]}"


class IdempotencyKey(models.Model):
    """The first answer to a retailer's POST sent with an `Idempotency-Key` header, kept for
    settings.IDEMPOTENCY_KEY_TTL so that a retry gets that answer again instead of acting
    twice (see idempotency.py). The unique (retailer, key) pair is the lock that lets exactly
    one of several concurrent requests with the same key run."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight"
        COMPLETED = "completed"

    id = models.BigAutoField(primary_key=True)
    retailer = models.ForeignKey(Retailer, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request's method, path and body.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["retailer", "key"], name="idempotency_key_per_retailer")]

    def __str__(self):
        return f"{self.key} ({self.state})"


class ReviewClaim(models.Model):
    """A reviewer working on a held ad (or an appeal's ad): others see "being reviewed by",
    until the reviewer releases it, decides it, or the claim expires (REVIEW_CLAIM_MINUTES)."""

    ad = models.OneToOneField(Ad, on_delete=models.CASCADE, primary_key=True, related_name="review_claim")
    reviewer = models.CharField(max_length=150)
    claimed_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"{self.ad_id} by {self.reviewer} until {self.expires_at:%Y-%m-%dT%H:%M:%S%z}"

    def active(self, now=None) -> bool:
        return self.expires_at > (now or timezone.now())


class ApprovalProposal(models.Model):
    """Four eyes (REVIEW_FOUR_EYES): an approval that overrules a reject-severity finding,
    waiting for a second, different reviewer to confirm it. Only for the ad's version it was
    made on; a confirmation turns it into the decision."""

    ad = models.OneToOneField(Ad, on_delete=models.CASCADE, primary_key=True, related_name="approval_proposal")
    version = models.PositiveIntegerField()
    reviewer = models.CharField(max_length=150)
    reason_code = models.CharField(max_length=32)
    reason = models.TextField()
    dispositions = models.JSONField(default=dict)
    proposed_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.ad_id} v{self.version} approval by {self.reviewer}"


class Appeal(models.Model):
    """A retailer contesting the verdict of one of its ads (rejected, or decided by staff):
    at most one appeal per verdict version. Reviewers decide it, which gives the ad a new
    verdict version (services/appeals.py)."""

    class Status(models.TextChoices):
        OPEN = "open"
        DECIDED = "decided"
        # The ad was judged again before a reviewer decided (its content changed, or a new
        # ruleset revalidated it): the appealed verdict no longer stands (services/appeals.py).
        SUPERSEDED = "superseded"

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="appeals")
    retailer = models.ForeignKey(Retailer, on_delete=models.PROTECT, related_name="+")
    verdict_version = models.PositiveIntegerField(help_text="The version of the verdict appealed against.")
    submitted_version = models.PositiveIntegerField(help_text="The ad version the appeal made.")
    message = models.TextField(max_length=2000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    submitted_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True, help_text="When it was decided, or superseded.")
    decided_by = models.CharField(max_length=150, blank=True)
    decision_status = models.CharField(
        max_length=16, choices=[(AdStatus.APPROVED, "Approved"), (AdStatus.REJECTED, "Rejected")], blank=True
    )
    decision_reason_code = models.CharField(max_length=32, blank=True)
    decision_reason = models.TextField(blank=True)
    decided_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The ad version the decision made, or the new verdict that superseded it."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ad", "verdict_version"], name="appeal_once_per_verdict_version")
        ]
        indexes = [
            # The appeals queue: open ones first, the oldest first.
            models.Index(fields=["status", "submitted_at"], name="appeal_status_submitted"),
        ]

    def __str__(self):
        return f"Appeal of {self.ad_id} v{self.verdict_version} ({self.status})"


class AdChange(models.Model):
    """A retailer's change of an ad's content (PATCH): accepted as a new version of the ad,
    judged by the consumers as a new ad is, and only then the ad's content. At most one change
    of an ad waits for judgement: a newer one supersedes it (docs/ad-states.md)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        JUDGED = "judged"
        SUPERSEDED = "superseded"
        REFUSED = "refused"  # direct mode: the ad had moved on by the time the consumer stored it

    id = models.BigAutoField(primary_key=True)
    ad = models.ForeignKey(Ad, on_delete=models.CASCADE, related_name="changes")
    event_id = models.UUIDField(unique=True, help_text="The ad.change_requested event; one change per event.")
    base_version = models.PositiveIntegerField(help_text="The version the retailer changed (If-Match).")
    version = models.PositiveIntegerField(null=True, blank=True, help_text="The ad version that accepted it.")
    fields = models.JSONField(help_text="The changed fields' new values, as event data.")
    before = models.JSONField(default=dict, help_text="The same fields' values in the judged content it changes.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    actor = models.CharField(max_length=200)
    submitted_at = models.DateTimeField(default=timezone.now)
    judged_at = models.DateTimeField(null=True, blank=True)
    verdict_version = models.PositiveIntegerField(null=True, blank=True, help_text="The ad version its verdict made.")
    verdict_status = models.CharField(max_length=16, blank=True)

    class Meta:
        indexes = [models.Index(fields=["ad", "-id"], name="adchange_ad")]

    def __str__(self):
        return f"{self.ad_id} change to v{self.version} ({self.status})"
