"""The ad's field registry (ads_write/fields.py) against what still declares fields by hand:
the Ad model (models declare their columns), the input serializer (the OpenAPI schema), and
basic validation's and the engine's handling of every submitted field."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rest_framework import serializers

from ads_write.fields import AD_FIELDS, FIELDS_BY_NAME, SUBMITTED_FIELDS, AdField, Kind, admin_fieldsets, names
from ads_write.models import Ad
from ads_write.serializers import AdInputSerializer
from ads_write.validation.basic import validate_basic
from ads_write.validation.engine import ad_input
from tests.factories import ad_payload

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TEXT_LIKE = (Kind.TEXT, Kind.URL, Kind.HOST_PATH, Kind.CODE)


def test_the_ad_model_stores_exactly_the_registry_columns():
    stored = {field.attname for field in Ad._meta.concrete_fields}
    assert stored == {column for field in AD_FIELDS for column in field.columns}


@pytest.mark.parametrize("field", [f for f in AD_FIELDS if f.kind in TEXT_LIKE and f.max_length], ids=lambda f: f.name)
def test_each_text_column_is_as_long_as_the_registry_allows(field: AdField):
    assert Ad._meta.get_field(field.name).max_length == field.max_length


@pytest.mark.parametrize("field", SUBMITTED_FIELDS, ids=lambda f: f.name)
def test_an_optional_field_may_be_left_empty_in_the_model_and_a_required_one_not(field: AdField):
    for column in field.columns:
        assert Ad._meta.get_field(column).blank is not field.required, column


def test_the_input_serializer_declares_the_submitted_fields_as_the_registry_does():
    declared = AdInputSerializer().fields
    assert list(declared) == list(names(SUBMITTED_FIELDS))
    for field in SUBMITTED_FIELDS:
        serializer_field = declared[field.name]
        assert serializer_field.required is field.required, field.name
        if field.kind in (Kind.TEXT, Kind.URL, Kind.HOST_PATH):
            assert serializer_field.max_length == field.max_length, field.name
        if field.kind is Kind.INTEGER:
            assert (serializer_field.min_value, serializer_field.max_value) == (field.min_value, field.max_value)
        if field.kind is Kind.DATETIME:
            assert isinstance(serializer_field, serializers.DateTimeField), field.name


def test_basic_validation_requires_exactly_the_required_fields():
    missing = {e.field for e in validate_basic({}, now=NOW).errors if e.code == "BASIC.REQUIRED"}
    assert missing == {f.name for f in SUBMITTED_FIELDS if f.required}


@pytest.mark.parametrize("field", SUBMITTED_FIELDS, ids=lambda f: f.name)
def test_basic_validation_checks_every_submitted_field(field: AdField):
    errors = validate_basic(ad_payload(**{field.name: ["not", "a", "value"]}), now=NOW).errors
    assert [e.field.split(".")[0] for e in errors] == [field.name]


@pytest.mark.parametrize(
    "field", [f for f in SUBMITTED_FIELDS if f.max_length and f.kind is not Kind.CODE], ids=lambda f: f.name
)
def test_basic_validation_holds_each_text_to_the_registry_length(field: AdField):
    longest = "a" * field.max_length
    value = f"https://a.example/{longest}"[: field.max_length] if field.kind is Kind.URL else longest
    if field.kind is Kind.HOST_PATH:
        value = f"a.example/{longest}"[: field.max_length]
    assert validate_basic(ad_payload(**{field.name: value}), now=NOW).ok
    too_long = validate_basic(ad_payload(**{field.name: value + "a"}), now=NOW).errors
    assert [(e.field, e.code) for e in too_long] == [(field.name, "BASIC.TOO_LONG")]


def test_the_engine_reads_every_submitted_field_from_a_stored_ad():
    ad = Ad(
        external_ref="SKU-1",
        headline="Trail shoes",
        description="Grippy soles.",
        landing_url="https://a.example/",
        display_url="a.example",
        country="US",
        language="en",
        category="sports",
        price_amount=Decimal("1.00"),
        price_currency="USD",
        target_min_age=18,
        starts_at=NOW,
        ends_at=NOW,
        disclosure="Terms apply.",
        advertiser_license="L-1",
        paid_for_by="A committee",
    )
    assert set(ad_input(ad)) == set(names(SUBMITTED_FIELDS))


def test_the_admin_shows_every_field_once():
    shown = [name for _, options in admin_fieldsets() for name in options["fields"]]
    assert sorted(shown) == sorted(FIELDS_BY_NAME)


def test_a_retailer_may_change_its_content_and_nothing_the_platform_records():
    editable = {f.name for f in AD_FIELDS if f.editable}
    assert editable == {f.name for f in SUBMITTED_FIELDS}
    assert not editable & {"id", "retailer", "status", "version", "submitted_at", "intake_event_id"}
