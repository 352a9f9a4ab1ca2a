from datetime import datetime
from datetime import timezone as dt_timezone

from rest_framework import serializers

from ads_write.models import AdStatus


class FindingSerializer(serializers.Serializer):
    code = serializers.CharField()
    category = serializers.CharField()
    severity = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)
    evidence = serializers.DictField()


class PriceSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()


class DecisionSerializer(serializers.Serializer):
    by = serializers.CharField()
    reason = serializers.CharField()


class AdViewSerializer(serializers.Serializer):
    """An ad as the retailer reads it. A pending stand-in (accepted, not yet projected) has
    only id, status, external_ref and submitted_at; the rest is null."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=AdStatus.values)
    external_ref = serializers.CharField(allow_blank=True, default="")
    headline = serializers.CharField(allow_null=True, default=None)
    description = serializers.CharField(allow_null=True, default=None)
    landing_url = serializers.CharField(allow_null=True, default=None)
    display_url = serializers.CharField(allow_null=True, default=None)
    country = serializers.CharField(allow_null=True, default=None)
    language = serializers.CharField(allow_null=True, default=None)
    category = serializers.CharField(allow_null=True, default=None)
    price = serializers.SerializerMethodField()
    target_min_age = serializers.IntegerField(allow_null=True, default=None)
    starts_at = serializers.DateTimeField(allow_null=True, default=None)
    ends_at = serializers.DateTimeField(allow_null=True, default=None)
    findings = FindingSerializer(many=True, default=list)
    ruleset_version = serializers.CharField(allow_null=True, default=None)
    submitted_at = serializers.DateTimeField()
    reviewed_at = serializers.DateTimeField(allow_null=True, default=None)
    decided_at = serializers.DateTimeField(allow_null=True, default=None)
    decision = serializers.SerializerMethodField()
    version = serializers.IntegerField(default=0)

    # For the schema only (see to_representation).
    def get_price(self, obj) -> PriceSerializer(allow_null=True): ...

    def get_decision(self, obj) -> DecisionSerializer(allow_null=True): ...

    def to_representation(self, instance):
        # Rendered by `ad_document`, not field by field: DRF copies and runs the 21 declared
        # fields for every ad, a fifth of a read by id and more of a list. The fields above
        # stay as the OpenAPI schema; a test holds the two to the same output.
        return ad_document(instance)


def ad_document(ad) -> dict:
    """The API representation of a read row, or of a pending stand-in (a dict: accepted,
    not yet projected, with only id, external_ref and submitted_at)."""
    if isinstance(ad, dict):
        document = dict.fromkeys(AdViewSerializer._declared_fields)
        document.update(
            id=str(ad["id"]),
            status="pending",
            external_ref=ad.get("external_ref", ""),
            submitted_at=_datetime(datetime.fromisoformat(ad["submitted_at"])),
            findings=[],
            version=0,
        )
        return document
    return {
        "id": str(ad.id),
        "status": ad.status,
        "external_ref": ad.external_ref,
        "headline": ad.headline,
        "description": ad.description,
        "landing_url": ad.landing_url,
        "display_url": ad.display_url,
        "country": ad.country,
        "language": ad.language,
        "category": ad.category,
        "price": {"amount": str(ad.price_amount), "currency": ad.price_currency} if ad.price_amount is not None else None,
        "target_min_age": ad.target_min_age,
        "starts_at": _datetime(ad.starts_at),
        "ends_at": _datetime(ad.ends_at),
        "findings": [{key: finding.get(key) for key in FINDING_KEYS} for finding in ad.findings],
        "ruleset_version": ad.ruleset_version,
        "submitted_at": _datetime(ad.submitted_at),
        "reviewed_at": _datetime(ad.reviewed_at),
        "decided_at": _datetime(ad.decided_at),
        "decision": {"by": ad.decided_by, "reason": ad.decision_reason} if ad.decided_by else None,
        "version": ad.version,
    }


FINDING_KEYS = tuple(FindingSerializer._declared_fields)


def _datetime(value: datetime | None) -> str | None:
    """As DRF's DateTimeField renders it: in UTC, ISO 8601 with a "Z"."""
    if value is None:
        return None
    text = value.astimezone(dt_timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class DailyStatsSerializer(serializers.Serializer):
    day = serializers.DateField()
    pending = serializers.IntegerField()
    approved = serializers.IntegerField()
    rejected = serializers.IntegerField()
    needs_review = serializers.IntegerField()
    total = serializers.IntegerField()
