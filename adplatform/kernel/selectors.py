"""Read-side selectors of the kernel: a retailer's API keys (never their hashes)."""

from .models import ApiKey


def api_key_list(*, retailer_id):
    """Every key of the retailer, revoked and expired ones too (they say what happened)."""
    return ApiKey.objects.filter(retailer_id=retailer_id).defer("key_hash")


def api_key_get(*, retailer_id, key_id) -> ApiKey | None:
    return api_key_list(retailer_id=retailer_id).filter(pk=key_id).first()
