"""Request and response shapes of the command API, for the OpenAPI schema. The checks
themselves are the basic-validation functions (validation/basic.py), which give the stable
error codes of AD_POLICY.md."""

from rest_framework import serializers

from .validation.basic import TAXONOMY


class PriceInputSerializer(serializers.Serializer):
    amount = serializers.CharField(help_text="Decimal string > 0 with at most 2 places, e.g. \"19.99\".")
    currency = serializers.CharField(help_text="ISO 4217 code, e.g. USD.")


class AdInputSerializer(serializers.Serializer):
    external_ref = serializers.CharField(required=False, max_length=64)
    headline = serializers.CharField(max_length=90)
    description = serializers.CharField(max_length=300)
    landing_url = serializers.URLField(max_length=2048, help_text="Absolute https URL.")
    display_url = serializers.CharField(required=False, max_length=255, help_text="Host and optional path.")
    country = serializers.CharField(min_length=2, max_length=2, help_text="ISO 3166-1 alpha-2, upper case.")
    language = serializers.CharField(min_length=2, max_length=2, help_text="ISO 639-1, lower case.")
    category = serializers.ChoiceField(choices=sorted(TAXONOMY))
    price = PriceInputSerializer(required=False)
    target_min_age = serializers.IntegerField(required=False, min_value=13, max_value=99)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)
    disclosure = serializers.CharField(required=False, max_length=500)
    advertiser_license = serializers.CharField(required=False, max_length=64)
    paid_for_by = serializers.CharField(required=False, max_length=200)


class AcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    submitted_at = serializers.DateTimeField()
