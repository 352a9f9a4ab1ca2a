"""The hash chain: how an audit entry is put in canonical form and hashed. Shared by the
writer (services) and the verifier (selectors), so both hash exactly the same bytes.

An entry's hash is an HMAC-SHA256 under the key its `key_id` names (settings.AUDIT_HMAC_KEYS,
kept outside the database): whoever can rewrite the table cannot compute it. An entry with no
key id was written before the chain was keyed and has a plain SHA-256."""

import hashlib
import hmac
import json
import math
import uuid
from datetime import UTC, datetime

from django.conf import settings

GENESIS_HASH = "0" * 64


def _canonical_value(value):
    """The JSON value as the database gives it back. jsonb prints an integral float such as
    1e16 as an integer, so integral floats become ints here, before hashing, not after."""
    if isinstance(value, dict):
        return {str(k): _canonical_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical_value(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"audit data cannot hold {value!r}")
        return int(value) if value.is_integer() else value
    if isinstance(value, datetime):
        return utc_iso(value)
    return str(value)  # Decimal, UUID, date: their usual text


_DUMPS = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False, "allow_nan": False}


# Made once: json.dumps and json.loads with options build an encoder or decoder per call,
# which cost as much as the work itself on an ad's data.
_ENCODER = json.JSONEncoder(default=lambda value: _json_default(value), **_DUMPS)
_DECODER = json.JSONDecoder(parse_float=lambda token: _parse_float(token))


def canonical_json(value) -> str:
    """Sorted keys, no whitespace, UTF-8 text: one byte string per value."""
    return canonical_form(value)[0]


def canonical_form(value) -> tuple[str, object]:
    """The canonical text of `value` and the value as the database gives it back (that text
    parsed), which is what is stored and hashed. The writer's hot path: json's C encoder does
    the walk, with `_canonical_value`'s conversions as its fallback for other types. Only an
    integral float (printed otherwise than jsonb prints it) or keys it cannot sort take the
    walk in Python (a third of the consumer's audit time when it was the only way)."""
    try:
        text = _ENCODER.encode(value)
        return text, _DECODER.decode(text)
    except (TypeError, ValueError, _IntegralFloat):  # keys of mixed types; NaN (refused below, with its reason)
        pass
    text = json.dumps(_canonical_value(value), **_DUMPS)
    return text, json.loads(text)


class _IntegralFloat(Exception):
    pass


def _parse_float(token: str) -> float:
    number = float(token)
    if number.is_integer():
        raise _IntegralFloat(token)  # the walk in Python then writes it as jsonb would
    return number


def _json_default(value):
    # What json cannot encode itself, as _canonical_value writes it.
    return utc_iso(value) if isinstance(value, datetime) else str(value)


def utc_iso(moment: datetime) -> str:
    # The database hands datetimes back in UTC; hashing any other offset would not verify.
    if moment.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _uuid_text(value) -> str | None:
    if isinstance(value, uuid.UUID):
        return str(value)  # already the canonical form; parsing it again cost a fifth of the hash
    return str(uuid.UUID(str(value))) if value else None


class UnknownKey(LookupError):
    pass


def hmac_key(key_id: str) -> bytes:
    try:
        return settings.AUDIT_HMAC_KEYS[key_id].encode()
    except KeyError:
        raise UnknownKey(f"no audit HMAC key {key_id!r} in AUDIT_HMAC_KEYS") from None


_encode_text = json.encoder.encode_basestring  # json.dumps' own, with ensure_ascii=False


def _json_scalar(value) -> str:
    """A field's value as json.dumps(value, **_DUMPS) writes it."""
    if isinstance(value, str):
        return _encode_text(value)
    if value is None:
        return "null"
    if type(value) is int:
        return int.__repr__(value)
    return json.dumps(value, **_DUMPS)


def entry_hash(entry, *, key: bytes | None = None, data_json: str | None = None) -> str:
    """The hash of an entry's canonical form (an AuditEntry, or anything with its attributes):
    every stored column but the hash itself, including the previous entry's hash and the key
    id, so changing any of them, or the order of entries, breaks the chain. HMAC-SHA256 under
    `key` or else the key its key id names; SHA-256 for an entry without key id. The same
    one-shot call either way: keying costs the hot path nothing measurable. `data_json`: the
    data's canonical text, when the caller has it already (the writer)."""
    # The canonical text (json.dumps of the fields with sorted keys, as it was first written)
    # put together directly: the same bytes, without a dict and an encoder per entry (the
    # writer hashes thousands a second). The data, the bulk of the entry, is put in canonical
    # form once, by the caller when it has it already. Chain 0 leaves the key out, so entries
    # written before the log had chains still verify; an entry without key id leaves that out.
    key_id = entry.key_id
    data = data_json if data_json is not None else canonical_json(entry.data)
    text = "".join(
        (
            '{"action":',
            _json_scalar(entry.action),
            ',"actor":',
            _json_scalar(entry.actor),
            ',"ad_id":',
            _json_scalar(_uuid_text(entry.ad_id)),
            f',"chain":{_json_scalar(entry.chain)}' if entry.chain else "",
            ',"data":',
            data,
            ',"event_id":',
            _json_scalar(_uuid_text(entry.event_id)),
            f',"key_id":{_json_scalar(key_id)}' if key_id else "",
            ',"occurred_at":',
            _json_scalar(utc_iso(entry.occurred_at)),
            ',"prev_hash":',
            _json_scalar(entry.prev_hash),
            ',"recorded_at":',
            _json_scalar(utc_iso(entry.recorded_at)),
            ',"retailer_id":',
            _json_scalar(_uuid_text(entry.retailer_id)),
            ',"sequence":',
            _json_scalar(entry.sequence),
            "}",
        )
    ).encode()
    if not key_id:
        return hashlib.sha256(text).hexdigest()
    return hmac.digest(key or hmac_key(key_id), text, "sha256").hex()
