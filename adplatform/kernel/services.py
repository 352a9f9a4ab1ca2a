"""Write-side services of the kernel: retailers and their API keys."""

from django.db import transaction

from adplatform.kernel.ids import new_id
from audit.services import AuditRecord, audit_record_many

from .models import ApiKey, Retailer, hash_api_key


def retailer_create(*, name: str, email: str = "", actor: str = "system:cli") -> Retailer:
    with transaction.atomic():
        retailer = Retailer.objects.create(name=name, email=email, report_contacts=[email] if email else [])
        audit_record_many(
            records=[
                AuditRecord(
                    event_id=new_id(),
                    action="retailer.created",
                    actor=actor,
                    retailer_id=retailer.id,
                    data={"name": name, "email": email},
                )
            ]
        )
    return retailer


def api_key_create(*, retailer: Retailer, label: str = "", actor: str = "system:cli") -> str:
    """Create a key and return the raw key; only its hash is stored, so this is the one
    time anybody sees it."""
    prefix, raw_key = ApiKey.generate()
    with transaction.atomic():
        key = ApiKey.objects.create(retailer=retailer, prefix=prefix, key_hash=hash_api_key(raw_key), label=label)
        audit_record_many(
            records=[
                AuditRecord(
                    event_id=new_id(),
                    action="api_key.created",
                    actor=actor,
                    retailer_id=retailer.id,
                    data={"key_id": str(key.id), "prefix": prefix, "label": label},
                )
            ]
        )
    return raw_key
