"""Peak memory of one batch request (issue 21): the bodies that cost the most to decode, at the
batch body limit, and the peak of what Python allocated while the request ran (tracemalloc),
as a multiple of the body. Run by `bench/batch_intake_profile.py --memory`; the bound (4 × the
body) is checked by tests/ads_write/test_batch_memory.py on the same bodies."""

import tracemalloc

import msgspec

BATCH_PATH = "/api/v1/ads/batch"


def _filled(head: bytes, unit: bytes, tail: bytes, size: int) -> bytes:
    """head + unit, unit, ... + tail, as many units as fit in `size` bytes."""
    count = max(1, (size - len(head) - len(tail)) // (len(unit) + 1))
    return head + b",".join([unit] * count) + tail


def hostile_bodies(limit: int, *, max_ads: int, max_ad_bytes: int) -> dict[str, bytes]:
    """Bodies of `limit` bytes each (about) that would decode to the most Python objects."""
    per_ad = min(limit // max_ads, max_ad_bytes)
    one_ad_of_lists = _filled(b'{"ads":[{"x":[', b"{}", b"]}]}", limit)
    ad_of_lists = _filled(b'{"x":[', b"{}", b"]}", per_ad)
    ad_of_unknown_fields = _filled(b"{", b'"f":0', b"}", per_ad).replace(b'"f"', b'"g"', 1)
    return {
        "one ad of {} lists": one_ad_of_lists,
        "every ad {} lists": _filled(b'{"ads":[', ad_of_lists, b"]}", limit),
        "ads past the count": _filled(b'{"ads":[', b"{}", b"]}", limit),
        "every ad unknown fields": _filled(b'{"ads":[', ad_of_unknown_fields, b"]}", limit),
    }


def valid_body(count: int) -> bytes:
    """`count` valid ads, each a little different, as a client would send them."""
    ads = [
        {
            "external_ref": f"SKU-{i}",
            "headline": f"Trail running shoes, model {i}",
            "description": "Grippy soles and waterproof uppers for winter runs.",
            "landing_url": f"https://www.nimbus-store.example/shoes/{i}",
            "display_url": "nimbus-store.example/shoes",
            "country": "US",
            "language": "en",
            "category": "sports",
            "price": {"amount": f"{50 + i % 50}.90", "currency": "USD"},
        }
        for i in range(count)
    ]
    return msgspec.json.encode({"ads": ads})


def peak_of_request(client, body: bytes, *, path: str = BATCH_PATH):
    """(response, peak bytes traced while the client sent `body` and the view answered)."""
    tracemalloc.start()
    try:
        response = client.generic("POST", path, body, content_type="application/json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return response, peak
