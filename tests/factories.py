import factory

from adplatform.kernel.models import Retailer


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
