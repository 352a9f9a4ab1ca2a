"""The daily purges: published outbox rows and expired content fingerprints, in chunks."""

from datetime import timedelta

from django.utils import timezone

from adplatform.kernel.bulk import delete_in_chunks

from ..models import OutboxMessage

# Rows deleted per statement by the daily purges.
PURGE_CHUNK = 1000


def outbox_purge(*, older_than_days: int) -> int:
    """Delete outbox rows published more than `older_than_days` ago, PURGE_CHUNK at a
    time. Rows never published are kept however old: the sweep still owes them to the
    broker. Returns how many it deleted."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    return delete_in_chunks(OutboxMessage.objects.filter(published_at__lt=cutoff), chunk_size=PURGE_CHUNK)


def content_fingerprints_purge(*, older_than_days: int) -> int:
    """Delete content fingerprints that FRAUD.DUPLICATE_CONTENT no longer looks at."""
    from ..models import ContentFingerprint

    cutoff = timezone.now() - timedelta(days=older_than_days)
    return delete_in_chunks(ContentFingerprint.objects.filter(submitted_at__lt=cutoff), chunk_size=PURGE_CHUNK)
