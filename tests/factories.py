import factory
from django.utils import timezone

from adplatform.kernel.events import Event
from adplatform.kernel.ids import new_id
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


def intake_events(retailer_id, *payloads, actor: str = "system:test") -> list[dict]:
    """ad.submitted events (as the request path makes them) for valid ad payloads."""
    from ads_write.services import ad_to_json
    from ads_write.validation.basic import validate_basic

    now = timezone.now().isoformat()
    return [
        Event(
            type="ad.submitted", ad_id=str(new_id()), retailer_id=str(retailer_id), version=1, occurred_at=now,
            data={**ad_to_json(validate_basic(p).ad), "submitted_at": now, "actor": actor},
        ).to_dict()
        for p in payloads
    ]
