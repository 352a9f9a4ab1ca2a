"""API-key authentication: `Authorization: Bearer adp_<prefix>_<secret>`."""

import hmac
import time
from dataclasses import dataclass

from rest_framework import authentication, exceptions, permissions

from .models import ApiKey, Retailer, hash_api_key

# Keys are looked up once per process per this many seconds; a revoked key stops working
# within that time. It saves a database round trip on every request.
_CACHE_SECONDS = 30
_CACHE_MAX = 10_000
_cache: dict[str, tuple[float, "Caller | None"]] = {}


@dataclass(frozen=True)
class Caller:
    """Who is calling: the retailer and the key it used (for the audit actor)."""

    retailer: Retailer
    key_prefix: str

    @property
    def actor(self) -> str:
        return f"retailer:{self.retailer.id}/key:{self.key_prefix}"


def _lookup(raw_key: str) -> Caller | None:
    prefix = ApiKey.split(raw_key)
    if prefix is None:
        return None
    key = ApiKey.objects.select_related("retailer").filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not key.retailer.is_active:
        return None
    if not hmac.compare_digest(key.key_hash, hash_api_key(raw_key)):
        return None
    return Caller(retailer=key.retailer, key_prefix=prefix)


def caller_for_key(raw_key: str) -> Caller | None:
    now = time.monotonic()
    hit = _cache.get(raw_key)
    if hit and hit[0] > now:
        return hit[1]
    caller = _lookup(raw_key)
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[raw_key] = (now + _CACHE_SECONDS, caller)
    return caller


def forget_cached_keys() -> None:
    _cache.clear()


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
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        request.caller = caller
        return caller.retailer, caller

    def authenticate_header(self, request):
        return f'{self.keyword} realm="adplatform"'


class IsRetailer(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, Retailer)
