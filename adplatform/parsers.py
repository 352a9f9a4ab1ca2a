"""JSON request bodies, decoded with msgspec: about twice as fast as the standard library on
the batch path, and strict. Any undecodable body is a 400, never a 500 (a deeply nested body
makes a JSON decoder raise RecursionError, which DRF's own parser lets through; bytes that
are not UTF-8 inside a string make msgspec raise UnicodeDecodeError)."""

import msgspec
from django.conf import settings
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import BaseParser

from .problems import problem

JSON_MEDIA_TYPE = "application/json"
_decoder = msgspec.json.Decoder()


def decode_json(raw: bytes):
    try:
        return _decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise ParseError(f"JSON parse error: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ParseError(f"JSON parse error: the body is not UTF-8 ({exc.reason} at byte {exc.start}).") from exc


class JSONParser(BaseParser):
    """DRF's parser for `request.data`, on msgspec; bodies over API_MAX_BODY_BYTES are 413
    (Django's own limit only guards `request.body`, which DRF's stream reading skips)."""

    media_type = JSON_MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise body_too_large(len(raw), limit)
        return decode_json(raw)


def request_json(request, *, max_bytes: int):
    """The body of a DRF request as JSON: 415 unless it is JSON, 413 over `max_bytes`, 400 if
    it does not decode. Decoded once per request (a throttle may need it before the view)."""
    if hasattr(request, "_decoded_json"):
        return request._decoded_json
    media_type = (request.content_type or "").split(";", 1)[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        raise UnsupportedMediaType(media_type or "(none)")
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > max_bytes:
        raise body_too_large(int(length), max_bytes)
    body = request.body
    if len(body) > max_bytes:
        raise body_too_large(len(body), max_bytes)
    request._decoded_json = decode_json(body)
    return request._decoded_json


def body_too_large(size: int, max_bytes: int):
    return problem(
        "payload-too-large", detail=f"The body is over {max_bytes} bytes, the most accepted here ({size} read)."
    )
