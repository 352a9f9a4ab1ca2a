"""A batch body split into its ads without decoding it whole (issue 21: a 16 MiB body of `{}`
lists decoded to ~370 MiB of Python objects, ×24).

The body is decoded by msgspec into typed structures that keep each ad as a `msgspec.Raw`, a
slice of the body (no copy); each ad is then decoded and basic-validated in turn, so that only
its compact validated values, or its errors, stay alive. Bounded on every shape of body:

- the ads: a Struct with API_MAX_BATCH_SIZE + 1 positional slots (`array_like`); msgspec skips
  the items past the last slot without making objects for them (a list with a length limit
  would build all its items first, ~64 bytes per `{},`);
- one ad is held to the single-ad body limit (API_MAX_BODY_BYTES): a larger one is that ad's
  error, never decoded (no valid ad comes near it);
- unknown fields are reported per ad, the first MAX_UNKNOWN_FIELDS of them and a count of the
  rest (an ad of 64 KiB has room for ~9,000 of them).

Bytes that are not UTF-8 anywhere in the body are a 400 for the whole body, as when it was
decoded whole: msgspec checks strings only where it decodes them, not where it skips them.
"""

import codecs
import functools
from collections.abc import Iterator
from datetime import datetime

import msgspec
from rest_framework.exceptions import ParseError

from adplatform.parsers import decode_json, json_parse_error
from adplatform.problems import problem

from .validation.basic import TOO_LONG, UNKNOWN_FIELD, BasicResult, FieldError, validate_basic

MAX_UNKNOWN_FIELDS = 10
_UTF8_CHUNK = 64 * 1024


def _bad_batch(code: str, message: str):
    return problem(
        "bad-request",
        detail='The body must be {"ads": [ad, ...]}.',
        errors=[{"field": "ads", "code": code, "message": message}],
    )


@functools.cache
def _batch_types(slots: int) -> tuple[msgspec.json.Decoder, msgspec.json.Decoder]:
    """Decoders of `{"ads": [...]}` with `slots` ads at most kept: one that refuses other
    top-level fields and one that ignores them (to tell that error from a wrong shape)."""
    ads = msgspec.defstruct("BatchAds", [(f"ad{i}", msgspec.Raw, None) for i in range(slots)], array_like=True)
    strict = msgspec.defstruct("Batch", [("ads", ads)], forbid_unknown_fields=True)
    lenient = msgspec.defstruct("LenientBatch", [("ads", ads)])
    return msgspec.json.Decoder(strict), msgspec.json.Decoder(lenient)


def _check_utf8(body: bytes) -> None:
    """400 unless the whole body is UTF-8, checked a chunk at a time (one decode of it all
    would make a str of up to 4 × the body)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    try:
        for start in range(0, len(view), _UTF8_CHUNK):
            decoder.decode(view[start : start + _UTF8_CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise ParseError(f"JSON parse error: the body is not UTF-8 ({exc.reason}).") from exc


def _decodes(decoder: msgspec.json.Decoder, body: bytes) -> bool:
    """Whether `body` is of the decoder's shape; 400 if it is not JSON at all."""
    try:
        decoder.decode(body)
    except msgspec.ValidationError:
        return False
    except (msgspec.DecodeError, RecursionError) as exc:
        raise json_parse_error(exc) from exc
    return True


def batch_ads(body: bytes, *, max_ads: int) -> list[msgspec.Raw]:
    """The ads of a batch body as slices of it, checked for shape and count (not the ads
    themselves): 400 for a body that is not JSON or not `{"ads": [...]}` with at least one
    ad, the 422 `batch-too-large` over `max_ads`."""
    _check_utf8(body)
    strict, lenient = _batch_types(max_ads + 1)
    try:
        document = strict.decode(body)
    except msgspec.ValidationError:
        if _decodes(lenient, body):
            raise _bad_batch("BASIC.UNKNOWN_FIELD", "Only `ads` is allowed at the top level.") from None
        raise _bad_batch("BASIC.REQUIRED", "Send an object with a list `ads`.") from None
    except (msgspec.DecodeError, RecursionError) as exc:
        raise json_parse_error(exc) from exc
    items = [ad for ad in msgspec.structs.astuple(document.ads) if ad is not None]
    if not items:
        raise _bad_batch("BASIC.REQUIRED", "Send at least one ad.")
    if len(items) > max_ads:
        raise problem("batch-too-large", detail=f"More than {max_ads} ads; at most {max_ads} per batch.")
    return items


def _capped(result: BasicResult) -> BasicResult:
    """The first MAX_UNKNOWN_FIELDS unknown fields and a count of the rest, with every other error."""
    kept, unknown = [], 0
    for error in result.errors:
        unknown += error.code == UNKNOWN_FIELD
        if error.code != UNKNOWN_FIELD or unknown <= MAX_UNKNOWN_FIELDS:
            kept.append(error)
    if unknown <= MAX_UNKNOWN_FIELDS:
        return result
    kept.append(FieldError("", UNKNOWN_FIELD, f"And {unknown - MAX_UNKNOWN_FIELDS} more unknown fields."))
    return BasicResult(result.ad, tuple(kept))


def basic_results(items: list[msgspec.Raw], *, max_ad_bytes: int, now: datetime) -> Iterator[BasicResult]:
    """Each ad decoded and basic-validated in turn; an ad over `max_ad_bytes` is its own error."""
    for raw in items:
        size = len(raw)
        if size > max_ad_bytes:
            message = f"The ad is {size} bytes of JSON; at most {max_ad_bytes}, as for a single ad."
            yield BasicResult({}, (FieldError("", TOO_LONG, message),))
        else:
            yield _capped(validate_basic(decode_json(raw), now=now))
