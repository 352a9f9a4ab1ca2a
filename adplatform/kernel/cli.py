"""What management commands share: naming a retailer on the command line."""

import uuid

from django.core.management.base import CommandError

from .models import Retailer


def retailer_id_from(value: str, *, option: str = "--retailer") -> uuid.UUID:
    """The id of the retailer named by `value`: its id, or its name (which must be unique)."""
    try:
        return Retailer.objects.get(id=uuid.UUID(value)).id
    except (ValueError, Retailer.DoesNotExist):
        pass
    found = list(Retailer.objects.filter(name=value).values_list("id", flat=True)[:2])
    if len(found) != 1:
        raise CommandError(f"{option}: {'no' if not found else 'more than one'} retailer named {value!r}")
    return found[0]
