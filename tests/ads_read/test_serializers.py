"""The ad representation is rendered by `ad_document`, not by DRF's declared fields (which
stay as the OpenAPI schema): it must give exactly what those fields would."""

from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest

from ads_read.models import AdView
from ads_read.pending import PendingAd
from ads_read.serializers import AdViewSerializer, ad_document
from tests.factories import AdViewFactory

pytestmark = pytest.mark.django_db

# The two method fields have no DRF rendering of their own; their shapes are asserted below.
METHOD_FIELDS = {"price", "decision", "appeal"}


def rendered_by_drf(row: AdView) -> dict:
    """What DRF's declared fields make of the row, field by field."""
    serializer = AdViewSerializer()
    return {
        field.field_name: None
        if field.get_attribute(row) is None
        else field.to_representation(field.get_attribute(row))
        for field in serializer.fields.values()
        if field.field_name not in METHOD_FIELDS
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {
            "status": "needs_review",
            "display_url": "nimbus-store.example/shoes",
            "target_min_age": 21,
            "starts_at": datetime(2026, 12, 1, 8, 30, 0, 123456, tzinfo=UTC),
            "ends_at": datetime(2026, 12, 24, 23, 59, 59, tzinfo=dt_timezone(timedelta(hours=2))),
            "decided_at": datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
            "findings": [
                {
                    "code": "POLICY.CLAIM",
                    "category": "policy",
                    "severity": "review",
                    "message": "A claim.",
                    "field": None,
                    "evidence": {"words": ["guaranteed"], "count": 1},
                }
            ],
        },
        {"status": "approved", "findings": [], "reviewed_at": None, "ruleset_version": "2026-11.0", "version": 3},
    ],
)
def test_ad_document_renders_what_the_declared_fields_would(overrides):
    AdViewFactory(**overrides)
    row = AdView.objects.get()  # as read back: database types, not the factory's

    document = ad_document(row)

    assert list(document) == list(AdViewSerializer._declared_fields)
    assert {k: v for k, v in document.items() if k not in METHOD_FIELDS} == rendered_by_drf(row)
    assert AdViewSerializer(row).data == document


def test_price_and_decision_are_objects_or_null():
    AdViewFactory(price_amount=Decimal("89.9"), price_currency="USD", decided_by="ana", decision_reason="Checked.")
    AdViewFactory(price_amount=None, decided_by="")
    priced, plain = AdView.objects.order_by("id")

    assert ad_document(priced)["price"] == {"amount": "89.90", "currency": "USD"}
    assert ad_document(priced)["decision"] == {"by": "ana", "reason": "Checked."}
    assert ad_document(plain)["price"] is None and ad_document(plain)["decision"] is None


def test_a_pending_stand_in_has_every_field_and_only_what_is_known():
    marker = {
        "id": "019abc12-3456-7def-8abc-0123456789ab",
        "retailer_id": "r",
        "external_ref": "SKU-9",
        "submitted_at": "2026-11-26T10:00:00.500000+00:00",
    }

    document = ad_document(PendingAd(marker))

    assert list(document) == list(AdViewSerializer._declared_fields)
    assert document["submitted_at"] == "2026-11-26T10:00:00.500000Z"
    assert {k: v for k, v in document.items() if v is not None} == {
        "id": marker["id"],
        "status": "pending",
        "external_ref": "SKU-9",
        "submitted_at": "2026-11-26T10:00:00.500000Z",
        "findings": [],
        "version": 0,
        "paused": False,
    }
