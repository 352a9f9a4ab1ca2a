"""Secrets the platform must read back (webhook signing secrets: HMAC needs the key itself, a
hash would not do), stored encrypted under keys kept outside the database.

Keys are settings.WEBHOOK_SECRET_KEYS, {key id: secret}; new values are encrypted under
settings.WEBHOOK_SECRET_KEY_ID. A stored value is `fernet:<key id>:<Fernet token>` (AES-128-CBC
with HMAC-SHA256, from `cryptography`), so that it names the key that opens it and keys rotate:
add a key, point the id at it, run `manage.py reencrypt_webhook_secrets`, then drop the old key. The
Fernet key is derived from the configured secret by HKDF-SHA256, so any secret of 32+
characters will do (as for AUDIT_HMAC_KEYS).

Whatever cannot be opened fails loudly (`SecretUnreadable`): a key id that is not configured,
a token that the key does not open, a value stored in clear.
"""

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

PREFIX = "fernet"


class SecretUnreadable(Exception):
    """A stored secret that the configured keys cannot open."""


@functools.lru_cache(maxsize=32)
def _fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"adplatform stored secrets").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def _key(key_id: str) -> Fernet:
    try:
        return _fernet(settings.WEBHOOK_SECRET_KEYS[key_id])
    except KeyError:
        raise SecretUnreadable(f"no key {key_id!r} in WEBHOOK_SECRET_KEYS (rotated out, or never configured)") from None


def is_encrypted(stored: str) -> bool:
    return stored.startswith(f"{PREFIX}:")


def key_id_of(stored: str) -> str:
    return stored.split(":", 2)[1] if is_encrypted(stored) else ""


def encrypt(value: str) -> str:
    key_id = settings.WEBHOOK_SECRET_KEY_ID
    return f"{PREFIX}:{key_id}:{_key(key_id).encrypt(value.encode()).decode()}"


def decrypt(stored: str) -> str:
    if not is_encrypted(stored):
        raise SecretUnreadable("the stored secret is not encrypted (run the migrations, or it was written by hand)")
    _, key_id, token = stored.split(":", 2)
    try:
        return _key(key_id).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            f"key {key_id!r} of WEBHOOK_SECRET_KEYS does not open this secret (a wrong key)"
        ) from None


class EncryptedTextField(models.TextField):
    """A text column that holds its value encrypted (above); the model attribute is the clear
    value. Not searchable: the same value encrypts differently each time."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)
