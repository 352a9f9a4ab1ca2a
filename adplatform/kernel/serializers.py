from django.utils import timezone
from rest_framework import serializers

from notifications.serializers import StrictSerializer

from .models import ApiKey, Scope
from .services import ROTATION_GRACE_MAX


class ApiKeySerializer(serializers.ModelSerializer):
    """A key as its owner sees it: never the secret or its hash."""

    status = serializers.ChoiceField(
        choices=["active", "expired", "revoked"], read_only=True, help_text="`active` until revoked or expired."
    )
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.values))
    replaced_by = serializers.UUIDField(
        source="replaced_by_id", read_only=True, allow_null=True, help_text="The key a rotation made from this one."
    )
    current = serializers.SerializerMethodField(help_text="Whether this is the key of the request.")

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "prefix",
            "label",
            "scopes",
            "status",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "replaced_by",
            "current",
        ]
        read_only_fields = fields

    def get_current(self, key) -> bool:
        caller = getattr(self.context.get("request"), "caller", None)
        return caller is not None and caller.key_id == key.id


class ApiKeyCreatedSerializer(ApiKeySerializer):
    """The answer to a creation or rotation: the only time the key itself is shown."""

    secret = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The API key, to send as `Authorization: Bearer <secret>`. Shown only now: null in an "
        "Idempotency-Key replay (the secret is not stored).",
    )

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "secret"]
        read_only_fields = fields


def _future(value):
    if value is not None and value <= timezone.now():
        raise serializers.ValidationError("Must be in the future.", code="not_in_future")
    return value


class ApiKeyCreateSerializer(StrictSerializer):
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    scopes = serializers.MultipleChoiceField(
        choices=Scope.values, allow_empty=False, help_text="What the key may do: read, submit, settings, keys."
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, validators=[_future], help_text="Refused from then on."
    )


class ApiKeyUpdateSerializer(StrictSerializer):
    label = serializers.CharField(max_length=100, allow_blank=True)


class ApiKeyRotateSerializer(StrictSerializer):
    grace_seconds = serializers.IntegerField(
        min_value=0,
        max_value=int(ROTATION_GRACE_MAX.total_seconds()),
        default=3600,
        help_text="How long the old key keeps working (0 to 7 days; default 1 hour); then it expires.",
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, validators=[_future], help_text="The new key's expiry."
    )


class ApiKeyRevokeSerializer(serializers.Serializer):
    allow_lockout = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Revoke even the last active key with the `keys` scope (then only staff can issue keys).",
    )
