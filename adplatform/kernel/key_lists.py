"""Keys kept outside the database, configured as `id=secret,id2=secret2` lists
(AUDIT_HMAC_KEYS, WEBHOOK_SECRET_KEYS). One parser, so both take the same form and a
malformed value is refused with the same message. Reads no Django setting: settings.py
imports it."""

from django.core.exceptions import ImproperlyConfigured

MAX_ID_LENGTH = 32
MIN_SECRET_LENGTH = 32


def key_list_parse(*, name: str, value: str) -> dict[str, str]:
    """{key id: secret} from `value`, in its order; empty for an empty value. Raises
    ImproperlyConfigured naming the setting and the malformed pair by position (never its
    secret): ids of 1-32 characters without ':' (stored values name their key as
    `<prefix>:<id>:`) or '=', secrets of 32 or more characters, each id once."""
    keys = {}
    pairs = [item.strip() for item in value.split(",") if item.strip()]
    for position, pair in enumerate(pairs, start=1):
        key_id, _, secret = (part.strip() for part in pair.partition("="))
        if not (0 < len(key_id) <= MAX_ID_LENGTH and ":" not in key_id and len(secret) >= MIN_SECRET_LENGTH) or (
            key_id in keys
        ):
            raise ImproperlyConfigured(
                f"{name}: pair {position} of {len(pairs)} is malformed; give id=secret pairs separated by commas, "
                f"ids of 1-{MAX_ID_LENGTH} characters without ':', each once, secrets of {MIN_SECRET_LENGTH} "
                "characters or more."
            )
        keys[key_id] = secret
    return keys
