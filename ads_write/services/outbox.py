"""The transactional outbox (cqrs mode, staff decisions): rows written with the change,
published after commit by the relay, and by a periodic sweep for what a crash left behind."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from adplatform.kernel.broker import publish_task
from adplatform.kernel.bulk import chunked
from adplatform.kernel.events import PROJECT_ADS_TASK, PROJECTION_MESSAGE_SIZE
from adplatform.kernel.ids import new_id

from ..models import OutboxMessage


def outbox_add(*, task_name: str, payload) -> int:
    """Record a message to publish once the surrounding transaction commits."""
    return OutboxMessage.objects.create(event_id=new_id(), task_name=task_name, payload=payload).id


def outbox_project(*, ad_ids: list) -> None:
    """Project these ads once the surrounding transaction commits, which changed them: their
    projection messages are outbox rows of it, published on commit (else by the sweep)."""
    ids = [
        outbox_add(task_name=PROJECT_ADS_TASK, payload=chunk)
        for chunk in chunked([str(ad_id) for ad_id in ad_ids], PROJECTION_MESSAGE_SIZE)
    ]
    transaction.on_commit(lambda: outbox_publish(ids=ids), robust=True)


def outbox_publish(*, ids: list[int] | None = None, older_than_seconds: int | None = None, limit: int = 500) -> int:
    """Publish unpublished outbox rows (the given ones, or those older than a threshold) and
    mark them published. Several relays may run at once: each row is locked with SKIP LOCKED
    so it goes to one of them. A broker outage leaves rows for the next sweep."""
    published = 0
    while True:
        with transaction.atomic():
            rows = OutboxMessage.objects.filter(published_at__isnull=True)
            if ids is not None:
                rows = rows.filter(id__in=ids)
            if older_than_seconds is not None:
                rows = rows.filter(created_at__lt=timezone.now() - timedelta(seconds=older_than_seconds))
            batch = list(rows.select_for_update(skip_locked=True).order_by("id")[:limit])
            if not batch:
                return published
            done = []
            try:
                for row in batch:
                    publish_task(task_name=row.task_name, payload=row.payload)
                    done.append(row.id)
            except Exception:
                # Broker down: keep what went out marked, leave the rest to the sweep.
                OutboxMessage.objects.filter(id__in=done).update(published_at=timezone.now())
                return published + len(done)
            OutboxMessage.objects.filter(id__in=done).update(published_at=timezone.now())
            published += len(done)
        if len(batch) < limit:
            # Nothing more was there to take: another round would be one more transaction
            # per cqrs request (publish on commit) only to find no rows.
            return published
