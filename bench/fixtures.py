"""What the benches submit: a retailer with an API key, and a mix of ads that ends in each
final state as real traffic would (most approved, some rejected, some held for review)."""

import json

from .load import COUNTER

# Per 10 ads: 8 clean, 1 breaking company policy (rejected), 1 with a claim held for review.
_CLEAN = {
    "external_ref": "bench",
    "headline": "Trail running shoes for winter",
    "description": "Grippy soles and waterproof uppers for cold, wet runs.",
    "landing_url": "https://www.nimbus-store.example/shoes/trail",
    "display_url": "nimbus-store.example/shoes",
    "country": "US",
    "language": "en",
    "category": "sports",
    "price": {"amount": "89.90", "currency": "USD"},
}
AD_MIX = [_CLEAN] * 8 + [
    {**_CLEAN, "headline": "Winter sale on running shoes!!"},
    {**_CLEAN, "description": "Warmth guaranteed on every winter run."},
]
# Large enough never to throttle or flag the bench's single, very busy retailer.
UNLIMITED = 2_000_000_000


def ad_bodies() -> list[str]:
    """JSON bodies of the mix for wrk, each with a distinct external_ref per request."""
    return [json.dumps({**ad, "external_ref": f"bench-{COUNTER}"}) for ad in AD_MIX]


def batch_body(size: int) -> str:
    """One batch request of `size` ads of the mix (`{"ads": [...]}`)."""
    ads = [{**AD_MIX[i % len(AD_MIX)], "external_ref": f"bench-{COUNTER}-{i}"} for i in range(size)]
    return json.dumps({"ads": ads})


def ad_payloads(count: int, *, start: int = 0) -> list[dict]:
    """`count` ads of the mix as a client sends them, numbered from `start`."""
    return [{**AD_MIX[i % len(AD_MIX)], "external_ref": f"bench-{i}"} for i in range(start, start + count)]


def validated(payloads: list[dict]) -> list[dict]:
    """The ads as basic validation returns them (the input of ads_submit)."""
    from ads_write.validation.basic import validate_basic

    ads = []
    for payload in payloads:
        result = validate_basic(payload)
        if not result.ok:
            raise ValueError(f"the bench's ad mix fails basic validation: {result.errors}")
        ads.append(result.ad)
    return ads


def bench_retailer(name: str = "Bench Retailer"):
    """A retailer with no rate or velocity limit that matters, and a fresh API key.
    Returns (retailer, raw API key)."""
    from adplatform.kernel.models import Retailer
    from adplatform.kernel.services import api_key_create, retailer_create

    retailer = Retailer.objects.filter(name=name).first() or retailer_create(name=name, email="bench@bench.example")
    Retailer.objects.filter(id=retailer.id).update(rate_limit_per_minute=UNLIMITED, velocity_limit=UNLIMITED)
    retailer.refresh_from_db()
    return retailer, api_key_create(retailer=retailer, label="bench")
