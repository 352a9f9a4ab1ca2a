import functools
import zoneinfo

from rest_framework import serializers

from . import webhooks
from .models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint

MAX_REPORT_CONTACTS = 20


@functools.cache
def time_zone_names() -> frozenset:
    return frozenset(zoneinfo.available_timezones())  # reads the tz database: once per process


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, as the ad API does: a typo must not pass silently."""

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(dict.fromkeys(unknown, "Unknown field."), code="unknown_field")
        return attrs


class WebhookEndpointInputSerializer(StrictSerializer):
    url = serializers.URLField(max_length=2048)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WEBHOOK_EVENTS), min_length=1)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    # Declared: the model keeps them in a JSON column, which the schema would leave untyped.
    events = serializers.ListField(child=serializers.ChoiceField(choices=WEBHOOK_EVENTS), read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "created_at"]
        read_only_fields = fields  # an answer: every field is always there (required in the schema)


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """The answer to a registration: the only time the signing secret is shown."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.ChoiceField(choices=WEBHOOK_EVENTS, read_only=True)
    last_error = serializers.SerializerMethodField(
        help_text="Why the last attempt failed: the endpoint's HTTP status, or that it gave no answer."
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "ad_id",
            "version",
            "status",
            "attempts",
            "next_attempt_at",
            "first_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields  # an answer: every field is always there (required in the schema)

    def get_last_error(self, delivery) -> str:
        return webhooks.public_error(delivery.last_error)


class WebhookDeliveryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)


class RetailerSettingsSerializer(StrictSerializer):
    report_contacts = serializers.ListField(child=serializers.EmailField(), max_length=MAX_REPORT_CONTACTS)
    timezone = serializers.CharField(max_length=64, help_text="An IANA time zone name, e.g. Europe/Berlin.")

    def validate_report_contacts(self, value):
        seen, contacts = set(), []
        for address in value:
            if address.lower() not in seen:
                seen.add(address.lower())
                contacts.append(address)
        return contacts

    def validate_timezone(self, value):
        if value not in time_zone_names():
            raise serializers.ValidationError(
                "Not an IANA time zone name (e.g. UTC, Europe/Berlin, America/New_York).", code="invalid_timezone"
            )
        return value
