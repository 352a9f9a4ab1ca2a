"""Write-side services of the kernel: retailers and their API keys; dead letters."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from adplatform.kernel.ids import new_id
from audit.services import AuditRecord, audit_record_many

from .models import ApiKey, DeadLetter, Retailer, hash_api_key


def retailer_create(
    *, name: str, email: str = "", report_contacts: list[str] | None = None, actor: str = "system:cli"
) -> Retailer:
    """Create a retailer. Its daily report goes to `report_contacts`, by default to its
    e-mail address: a retailer created with one gets its reports without another step."""
    if report_contacts is None:
        report_contacts = [email] if email else []
    with transaction.atomic():
        retailer = Retailer.objects.create(name=name, email=email, report_contacts=report_contacts)
        audit_record_many(
            records=[
                AuditRecord(
                    event_id=new_id(),
                    action="retailer.created",
                    actor=actor,
                    retailer_id=retailer.id,
                    data={"name": name, "email": email, "report_contacts": report_contacts},
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


@dataclass
class ReplayOutcome:
    replayed: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # dead letter id -> why


def dead_letter_replay(*, ids: list[int], actor: str = "system:cli") -> ReplayOutcome:
    """Re-publish the original task of each dead letter with its original arguments, mark
    the letter replayed and audit it. Replaying again is harmless: every consumer is
    idempotent. A letter whose message could not be decoded, or whose task this code does
    not have, is skipped with the reason. Raises if the broker is unreachable (the letters
    published before that are replayed again next time, which is harmless too)."""
    from adplatform.celery import app

    app.loader.import_default_modules()  # outside a worker the task modules are not imported yet
    outcome = ReplayOutcome()
    with transaction.atomic():
        letters = list(DeadLetter.objects.select_for_update().filter(id__in=ids).order_by("id"))
        for missing in sorted(set(ids) - {letter.id for letter in letters}):
            outcome.skipped[missing] = "no such dead letter"
        replayable = []
        for letter in letters:
            if not letter.task_name:
                outcome.skipped[letter.id] = "the message could not be decoded; nothing to replay"
            elif letter.task_name not in app.tasks:
                outcome.skipped[letter.id] = f"unknown task {letter.task_name!r}"
            else:
                replayable.append(letter)
        if not replayable:
            return outcome
        # One round trip for all of them (a kombu publish batch), not one per letter while
        # their rows stay locked.
        with app.producer_or_acquire() as producer, producer.batch():
            replayed = [
                (letter, app.send_task(letter.task_name, args=letter.args, kwargs=letter.kwargs, producer=producer).id)
                for letter in replayable
            ]
        DeadLetter.objects.filter(id__in=[letter.id for letter, _ in replayed]).update(replayed_at=timezone.now())
        audit_record_many(
            records=[
                AuditRecord(
                    event_id=new_id(),
                    action="dead_letter.replayed",
                    actor=actor,
                    data={"dead_letter_id": letter.id, "task_name": letter.task_name, "task_id": task_id},
                )
                for letter, task_id in replayed
            ]
        )
    outcome.replayed.extend(letter.id for letter, _ in replayed)
    return outcome
