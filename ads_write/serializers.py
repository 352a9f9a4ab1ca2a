"""Request and response shapes of the command API, for the OpenAPI schema. The checks
themselves are the basic-validation functions (validation/basic.py), which give the stable
error codes of AD_POLICY.md."""

from rest_framework import serializers

from adplatform.openapi import FieldErrorSerializer, ProblemSerializer
from ads_read.serializers import FindingSerializer

from .fields import EDITABLE_FIELDS
from .models import AdStatus
from .validation.basic import TAXONOMY


class PriceInputSerializer(serializers.Serializer):
    amount = serializers.RegexField(
        r"^[0-9]{1,12}(\.[0-9]{1,2})?$", help_text='Decimal string > 0 with at most 2 places, e.g. "19.99".'
    )
    currency = serializers.RegexField(r"^[A-Z]{3}$", help_text="ISO 4217 code, e.g. USD.")


class AdInputSerializer(serializers.Serializer):
    external_ref = serializers.CharField(required=False, max_length=64)
    headline = serializers.CharField(max_length=90)
    description = serializers.CharField(max_length=300)
    landing_url = serializers.URLField(max_length=2048, help_text="Absolute https URL.")
    display_url = serializers.CharField(required=False, max_length=255, help_text="Host and optional path.")
    country = serializers.RegexField(r"^[A-Z]{2}$", help_text="ISO 3166-1 alpha-2, upper case.")
    language = serializers.RegexField(r"^[a-z]{2}$", help_text="ISO 639-1, lower case.")
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
    status = serializers.ChoiceField(choices=AdStatus.values, help_text="`pending`: detailed validation follows.")
    submitted_at = serializers.DateTimeField()


class DryRunSerializer(serializers.Serializer):
    """The answer to validate_only=true: what intake would decide, with nothing stored."""

    status = serializers.ChoiceField(
        choices=["approved", "rejected", "needs_review"], help_text="The status the ad would get."
    )
    findings = FindingSerializer(many=True)
    ruleset_version = serializers.CharField()


class BatchInputSerializer(serializers.Serializer):
    ads = serializers.ListField(child=AdInputSerializer(), min_length=1, max_length=1000)


class BatchResultSerializer(serializers.Serializer):
    """One item's result: `id` and `status` when it was accepted (or, in a dry run, `status`
    and `findings`), `errors` when it failed basic validation."""

    index = serializers.IntegerField(help_text="The item's position in `ads`, from 0.")
    id = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=AdStatus.values, required=False)
    errors = FieldErrorSerializer(many=True, required=False)
    findings = FindingSerializer(many=True, required=False)
    ruleset_version = serializers.CharField(required=False)


class BatchResponseSerializer(serializers.Serializer):
    accepted_count = serializers.IntegerField(help_text="Items accepted (in a dry run: that passed basic validation).")
    failed_count = serializers.IntegerField(help_text="Items that failed basic validation.")
    results = BatchResultSerializer(many=True, help_text="One result per item, in the order sent.")


class BatchProblemSerializer(ProblemSerializer):
    results = BatchResultSerializer(many=True, required=False, help_text="batch-rejected: each item's errors.")


def _changeable(field) -> serializers.Field:
    # The submission's field, optional, and nullable unless the ad must have it.
    declared = AdInputSerializer._declared_fields[field.name]
    return type(declared)(*declared._args, **{**declared._kwargs, "required": False, "allow_null": not field.required})


# A change (PATCH): only the fields to change, of those a retailer may change.
AdChangeInputSerializer = type(
    "AdChangeInputSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "Only the fields to change, of those a retailer may change (fields.EDITABLE_FIELDS). `null` "
        "removes an optional field. The content it makes passes basic validation as a new ad does, then "
        "detailed validation.",
        "__module__": __name__,
        **{field.name: _changeable(field) for field in EDITABLE_FIELDS},
    },
)


class PendingChangeSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The ad version that accepted the change.")
    status = serializers.ChoiceField(choices=["pending"])
    fields = serializers.ListField(child=serializers.CharField(), help_text="The fields it changes.")


class CommandResultSerializer(serializers.Serializer):
    """Where the ad stands after the command: its version (also the answer's `ETag`), status,
    whether it is paused, and the change being judged, if one is."""

    id = serializers.UUIDField()
    version = serializers.IntegerField(help_text="The ad's version after the command: send it as `If-Match`.")
    status = serializers.ChoiceField(choices=AdStatus.values, help_text="Its verdict (or `withdrawn`).")
    paused = serializers.BooleanField()
    change = PendingChangeSerializer(allow_null=True, help_text="A change being judged; null when none is.")
    note = serializers.CharField(help_text="What happens next, in words.")


class AdIdsInputSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=1000)


class CommandItemResultSerializer(serializers.Serializer):
    """One id's result: the ad after the command, or the problem that refused it."""

    id = serializers.CharField()
    version = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=AdStatus.values, required=False)
    paused = serializers.BooleanField(required=False)
    problem = ProblemSerializer(required=False, help_text="Why this ad was refused (not found, withdrawn, …).")


class BatchCommandResponseSerializer(serializers.Serializer):
    accepted_count = serializers.IntegerField()
    failed_count = serializers.IntegerField()
    results = CommandItemResultSerializer(many=True, help_text="One result per id, in the order sent.")
