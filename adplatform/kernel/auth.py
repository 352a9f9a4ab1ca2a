"""API-key authentication: `Authorization: Bearer adp_<prefix>_<secret>`.

Each web process keeps the keys it has looked up in a small cache (one database round trip
saved per request). A revocation, a rotation or a retailer's deactivation must still reach
every process at once, so every cache entry is tagged with the *key stamp* it was read
under: a random value in Redis (`api-keys:stamp`) that those changes replace after they
commit (`api_keys_changed`). Each request reads the stamp, in the same Redis round trip
that gates the `last_used_at` write, and trusts a cached entry only while the stamp is
unchanged; a request after the change misses and reads the key from the database. Entries
also age out after _CACHE_SECONDS, a backstop only.

Without Redis (the embedded default), or when Redis fails, there is no cache: every request
reads its key from the database, so a change is still seen at once.
"""

import hmac
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from .ids import new_id
from .models import ApiKey, Retailer, Scope, hash_api_key
from .redis_client import redis_client

logger = logging.getLogger(__name__)

_CACHE_SECONDS = 30
_CACHE_MAX = 10_000
STAMP_KEY = "api-keys:stamp"
# last_used_at is written at most once per key and this many seconds.
LAST_USED_EVERY = 60


@dataclass(frozen=True)
class Caller:
    """Who is calling: the retailer, the key it used (for the audit actor) and what the key
    may do."""

    retailer: Retailer
    key_prefix: str
    key_id: uuid.UUID | None = None
    scopes: frozenset[str] = field(default_factory=lambda: frozenset(Scope.values))
    expires_at: datetime | None = None

    @property
    def actor(self) -> str:
        return f"retailer:{self.retailer.id}/key:{self.key_prefix}"

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True)
class _Entry:
    stamp: bytes | None
    until: float  # time.monotonic()
    caller: Caller | None


_cache: dict[str, _Entry] = {}


def _lookup(raw_key: str) -> tuple[Caller | None, datetime | None]:
    """The caller of a key from the database (None unless the key is valid, not revoked and
    its retailer active; expiry is checked per request, see caller_for_key) and the key's
    last_used_at."""
    prefix = ApiKey.split(raw_key)
    if prefix is None:
        return None, None
    key = ApiKey.objects.select_related("retailer").filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not key.retailer.is_active:
        return None, None
    if not hmac.compare_digest(key.key_hash, hash_api_key(raw_key)):
        return None, None
    caller = Caller(
        retailer=key.retailer,
        key_prefix=prefix,
        key_id=key.id,
        scopes=frozenset(key.scopes),
        expires_at=key.expires_at,
    )
    return caller, key.last_used_at


def _used_key(key_id) -> str:
    return f"api-key-used:{key_id}"


def _touch(key_id, now: datetime) -> None:
    # Not audited: it records use, it changes nothing anybody decided.
    ApiKey.objects.filter(pk=key_id).update(last_used_at=now)


def _uncached(raw_key: str, now: datetime) -> Caller | None:
    """No Redis, or Redis failed: read the key every time, and write last_used_at when the
    stored one is a minute old (the row is read anyway, so the gate costs nothing)."""
    caller, last_used_at = _lookup(raw_key)
    if caller is not None and (last_used_at is None or now - last_used_at >= timedelta(seconds=LAST_USED_EVERY)):
        _touch(caller.key_id, now)
    return caller


def caller_for_key(raw_key: str) -> Caller | None:
    now = timezone.now()
    client = redis_client()
    if client is None:
        caller = _uncached(raw_key, now)
    else:
        caller = _cached(client, raw_key, now)
    if caller is not None and caller.expired(now):
        return None
    return caller


def _cached(client, raw_key: str, now: datetime) -> Caller | None:
    entry = _cache.get(raw_key)
    known = entry.caller if entry is not None else None
    # One round trip: the stamp, and (for a key this process knows) the minute's use gate.
    pipe = client.pipeline(transaction=False)
    pipe.get(STAMP_KEY)
    if known is not None:
        pipe.set(_used_key(known.key_id), 1, nx=True, ex=LAST_USED_EVERY)
    try:
        stamp, *gate = pipe.execute()
    except Exception:
        logger.warning("cannot read the API-key stamp from Redis; reading the key from the database", exc_info=True)
        return _uncached(raw_key, now)
    if entry is not None and entry.stamp == stamp and entry.until > time.monotonic():
        caller = entry.caller
    else:
        # The stamp was read before the database: a change committed after this read
        # replaces the stamp, so this entry cannot outlive it.
        caller, _ = _lookup(raw_key)
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[raw_key] = _Entry(stamp=stamp, until=time.monotonic() + _CACHE_SECONDS, caller=caller)
        if caller is not None and (known is None or known.key_id != caller.key_id):
            try:
                gate = [client.set(_used_key(caller.key_id), 1, nx=True, ex=LAST_USED_EVERY)]
            except Exception:
                logger.warning("cannot gate the last-used time in Redis", exc_info=True)
                gate = [False]
    if caller is not None and gate and gate[0]:
        _touch(caller.key_id, now)
    return caller


def forget_cached_keys() -> None:
    _cache.clear()


def api_keys_changed() -> None:
    """Call in the transaction that revokes, rotates or deactivates: once it commits, every
    web process's cached keys are stale. A failure is logged, not raised: the change is
    committed, and a process that cannot reach Redis does not use its cache either; one that
    can keeps a cached key for at most _CACHE_SECONDS."""

    def replace_stamp():
        client = redis_client()
        if client is None:
            return
        try:
            client.set(STAMP_KEY, new_id().hex)
        except Exception:
            logger.error(
                "could not replace the API-key stamp: other processes may accept a changed key for up to %s s",
                _CACHE_SECONDS,
                exc_info=True,
            )

    transaction.on_commit(replace_stamp)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme.lower() != "bearer" or not raw_key.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <API key>'.")
        caller = caller_for_key(raw_key.strip())
        if caller is None:
            raise exceptions.AuthenticationFailed("The API key is not valid, revoked or expired.")
        # Views reach the caller (its retailer, actor and scopes) as `request.caller`, only; DRF's
        # request.user and request.auth are set too, for the framework's own hooks.
        request.caller = caller
        return caller.retailer, caller

    def authenticate_header(self, request):
        return f'{self.keyword} realm="adplatform"'


class IsRetailer(permissions.BasePermission):
    """A retailer's key, with the scope the operation needs (scopes.py): an operation with
    no scope in that table is refused, so a new endpoint cannot be open to every key by
    omission."""

    def has_permission(self, request, view):
        if not isinstance(getattr(request, "caller", None), Caller):
            return False
        from .scopes import require_scope

        require_scope(request)
        return True
