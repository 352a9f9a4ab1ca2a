"""The read model covers the write model: every field of the registry (ads_write/fields.py)
that the Ad stores is in the read row and, where the registry says so, in the read document,
or is left out with a reason; and what the retailer submitted reads back as it sent it."""

import pytest

from ads_read.models import AdView
from ads_read.openapi import EXAMPLE_AD_VIEW
from ads_read.selectors import ad_get
from ads_read.serializers import DOCUMENT_KEYS, READ_SIDE_KEYS, AdViewSerializer, ad_document
from ads_write.fields import AD_FIELDS, READ_COLUMNS, SUBMITTED_FIELDS
from ads_write.models import Ad
from ads_write.openapi import EXAMPLE_AD
from ads_write.validation.basic import validate_basic
from tests.factories import RetailerFactory, submit_ad

# The read row's own columns: what the projection derives, not copies from the ad.
DERIVED_COLUMNS = {
    "retailer_name": "the retailer's name, for the admin and reports without a join to the write side",
    "landing_domain": "the landing URL's host, for filters and reports",
    "findings": "the latest engine verdict's findings",
    "finding_codes": "their codes, space-separated, for filtering",
    "decided_by": "the staff decision's reviewer",
    "decision_reason": "and its reason",
    "appeal": "the latest appeal, as the API shows it",
    "change": "the change being judged, as the API shows it",
    "action": "the retailer's command that made this version, only while the ad is at that version (webhooks)",
    "previous_status": "the status before the last change, for the daily counts",
    "projected_at": "when the projection wrote the row",
    "document": "the answer by id, rendered once by the projection (ads_read.serializers.stored_document)",
}


def test_every_stored_field_of_the_ad_is_in_the_read_row_or_left_out_with_a_reason():
    stored = {field.attname for field in Ad._meta.concrete_fields}
    read = {field.attname for field in AdView._meta.concrete_fields}
    for field in AD_FIELDS:
        assert set(field.columns) <= stored, field.name
        if field.not_read:
            copied = (set(field.columns) & read) - set(DERIVED_COLUMNS)
            assert not copied, f"{field.name} is read after all: drop its not_read"
        else:
            assert set(field.columns) <= read, f"{field.name}: add it to AdView, or say in not_read why not"
    assert read == set(READ_COLUMNS) | set(DERIVED_COLUMNS)


def test_each_copied_column_is_as_wide_on_the_read_side_as_on_the_write_side():
    # retailer_id: a foreign key on the write side, the plain id on the read side.
    for column in set(READ_COLUMNS) - {"retailer_id"}:
        written, read = Ad._meta.get_field(column), AdView._meta.get_field(column)
        assert type(read) is type(written), column
        assert getattr(read, "max_length", None) == getattr(written, "max_length", None), column


def test_the_document_shows_every_submitted_field_and_the_schema_declares_the_document():
    assert {f.name for f in AD_FIELDS if f.in_document} | set(READ_SIDE_KEYS) == set(DOCUMENT_KEYS)
    assert {f.name for f in SUBMITTED_FIELDS} <= set(DOCUMENT_KEYS)
    assert tuple(AdViewSerializer._declared_fields) == DOCUMENT_KEYS


@pytest.mark.django_db(transaction=True)
def test_a_retailer_reads_back_every_field_it_submitted():
    retailer = RetailerFactory()
    sent = {
        "target_min_age": 21,
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-02-01T00:00:00Z",
        "disclosure": "Representative 19.9% APR.",
        "advertiser_license": "FCA-123456",
        "paid_for_by": "The Garden Party",
    }
    ad = submit_ad(retailer, **sent)

    document = ad_document(ad_get(retailer_id=retailer.id, ad_id=ad.id))

    assert {name: document[name] for name in sent} == sent
    assert document["price"] == {"amount": "89.90", "currency": "USD"}
    assert document["display_url"] == "nimbus-store.example/shoes"


def test_the_schemas_examples_show_the_document_and_a_valid_submission():
    assert tuple(EXAMPLE_AD_VIEW) == DOCUMENT_KEYS
    assert validate_basic(EXAMPLE_AD).ok
