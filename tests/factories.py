import factory
from django.utils import timezone

from adplatform.kernel.ids import new_id
from adplatform.kernel.models import Retailer
from ads_read.models import AdView


class RetailerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Retailer
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Retailer {n}")
    email = factory.LazyAttribute(lambda r: f"reports@{r.name.lower().replace(' ', '-')}.example")
    report_contacts = factory.LazyAttribute(lambda r: [r.email])


def ad_payload(**overrides) -> dict:
    """A valid ad as a client would POST it; pass field=None to drop a field."""
    payload = {
        "external_ref": "SKU-1",
        "headline": "Trail running shoes",
        "description": "Grippy soles and waterproof uppers for winter runs.",
        "landing_url": "https://www.nimbus-store.example/shoes/trail",
        "display_url": "nimbus-store.example/shoes",
        "country": "US",
        "language": "en",
        "category": "sports",
        "price": {"amount": "89.90", "currency": "USD"},
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


class AdViewFactory(factory.django.DjangoModelFactory):
    """A read-table row, for tests of the query side (reports) that need exact states and
    times; the write side and projection are exercised by the pipeline tests."""

    class Meta:
        model = AdView

    id = factory.LazyFunction(new_id)
    retailer_id = factory.LazyAttribute(lambda v: RetailerFactory().id)
    retailer_name = "Nimbus"
    external_ref = factory.Sequence(lambda n: f"SKU-{n}")
    status = "rejected"
    headline = "Trail running shoes"
    description = "Grippy soles and waterproof uppers for winter runs."
    landing_url = "https://www.nimbus-store.example/shoes/trail"
    landing_domain = "www.nimbus-store.example"
    country = "US"
    language = "en"
    category = "sports"
    findings = factory.LazyFunction(
        lambda: [{"code": "COMPLIANCE.PROHIBITED_CATEGORY", "category": "compliance", "severity": "reject",
                  "message": "Category is prohibited.", "field": "category", "evidence": {}}]
    )
    submitted_at = factory.LazyFunction(timezone.now)
    reviewed_at = factory.LazyAttribute(lambda v: v.submitted_at)
    version = 2
    projected_at = factory.LazyAttribute(lambda v: v.submitted_at)


def mixed_batch(size: int) -> tuple[list, set]:
    """`size` ads, every third one invalid in some way; returns them and the invalid indexes."""
    breakers = [
        {"headline": None},
        {"landing_url": "http://insecure.example"},
        {"country": "usa"},
        {"price": {"amount": "-1", "currency": "USD"}},
        {"unknown": "x"},
    ]
    ads, invalid = [], set()
    for index in range(size):
        overrides = {"external_ref": f"item-{index}"}
        if index % 3 == 1:
            overrides.update(breakers[index % len(breakers)])
            invalid.add(index)
        ads.append(ad_payload(**overrides))
    return ads, invalid
