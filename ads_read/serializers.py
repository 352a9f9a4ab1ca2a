from rest_framework import serializers

from .models import AdView


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
    status = serializers.ChoiceField(choices=["pending", "approved", "rejected", "needs_review"])
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

    def get_price(self, obj) -> PriceSerializer(allow_null=True):
        if isinstance(obj, AdView) and obj.price_amount is not None:
            return {"amount": str(obj.price_amount), "currency": obj.price_currency}
        return None

    def get_decision(self, obj) -> DecisionSerializer(allow_null=True):
        if isinstance(obj, AdView) and obj.decided_by:
            return {"by": obj.decided_by, "reason": obj.decision_reason}
        return None

    def to_representation(self, instance):
        if isinstance(instance, dict):  # the pending stand-in
            from datetime import datetime

            instance = {**instance, "submitted_at": datetime.fromisoformat(instance["submitted_at"])}
            data = {name: None for name in self.fields}
            data.update(
                id=str(instance["id"]),
                status="pending",
                external_ref=instance.get("external_ref", ""),
                submitted_at=self.fields["submitted_at"].to_representation(instance["submitted_at"]),
                findings=[],
                version=0,
            )
            return data
        return super().to_representation(instance)


class DailyStatsSerializer(serializers.Serializer):
    day = serializers.DateField()
    pending = serializers.IntegerField()
    approved = serializers.IntegerField()
    rejected = serializers.IntegerField()
    needs_review = serializers.IntegerField()
    total = serializers.IntegerField()
