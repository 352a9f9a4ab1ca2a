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
        text = json.dumps(value, default=_json_default, **_DUMPS)
    except (TypeError, ValueError):  # keys of mixed types; NaN (refused below, with its reason)
        text = None
    if text is not None:
        integral = []

        def parse_float(token: str) -> float:
            number = float(token)
            if number.is_integer():
                integral.append(token)
            return number

        parsed = json.loads(text, parse_float=parse_float)
        if not integral:
            return text, parsed
    text = json.dumps(_canonical_value(value), **_DUMPS)
    return text, json.loads(text)


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


def entry_hash(entry, *, key: bytes | None = None, data_json: str | None = None) -> str:
    """The hash of an entry's canonical form (an AuditEntry, or anything with its attributes):
    every stored column but the hash itself, including the previous entry's hash and the key
    id, so changing any of them, or the order of entries, breaks the chain. HMAC-SHA256 under
    `key` or else the key its key id names; SHA-256 for an entry without key id. The same
    one-shot call either way: keying costs the hot path nothing measurable. `data_json`: the
    data's canonical text, when the caller has it already (the writer)."""
    body = {
        "sequence": entry.sequence,
        "event_id": _uuid_text(entry.event_id),
        "occurred_at": utc_iso(entry.occurred_at),
        "recorded_at": utc_iso(entry.recorded_at),
        "actor": entry.actor,
        "action": entry.action,
        "ad_id": _uuid_text(entry.ad_id),
        "retailer_id": _uuid_text(entry.retailer_id),
        "prev_hash": entry.prev_hash,
    }
    if entry.chain:
        # Chain 0 leaves the key out, so entries written before the log had chains still verify.
        body["chain"] = entry.chain
    key_id = entry.key_id
    if key_id:
        body["key_id"] = key_id
    # The data, the bulk of the entry, is put in canonical form once: its text goes where the
    # sorted keys put "data", just before "event_id" (a key no earlier value can fake: inside
    # a JSON string every quote is escaped). The rest are texts and integers: json as it is.
    head = json.dumps(body, **_DUMPS)
    at = head.index(',"event_id":')
    data = data_json if data_json is not None else canonical_json(entry.data)
    text = f'{head[:at]},"data":{data}{head[at:]}'.encode()
    if not key_id:
        return hashlib.sha256(text).hexdigest()
    return hmac.digest(key or hmac_key(key_id), text, "sha256").hex()
