"""Re-judging live approved ads when the policy changes (`manage.py revalidate --ruleset V`):
real ad platforms re-review live ads on a policy update.

Every live approved ad of the scope (approved, not ended) is judged again by the rules engine
(`evaluate_many`) with the given ruleset, in batches in id order. An ad the new ruleset would
still approve is not touched. Any other verdict becomes a new verdict version of the ad, with
that ruleset's version and its findings, recorded as intake records verdicts (the same
columns, `_findings_insert`, the audit entry in the same transaction, the projection
published through the outbox after commit), so the projection updates the read row and
creates the webhook deliveries for the new status. Idempotent: the verdict's event id is
derived from the ad's intake event and the ruleset version, and only ads still approved at
the version that was judged change (a row lock guards against a staff decision or another
run meanwhile; such an ad is left for the next run)."""

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from adplatform.kernel.bulk import rows_insert
from audit.services import AuditRecord, audit_record_many

from ..models import Ad, AdStatus, Verdict
from ..validation.engine import evaluate_many
from ..validation.ruleset import Ruleset
from .appeals import appeals_supersede
from .events import derived_event_id
from .outbox import outbox_project
from .verdicts import _VERDICT_COLUMNS, _count_verdicts, _findings_insert

REVALIDATOR_ACTOR = "system:revalidation"


@dataclass
class RevalidationResult:
    ruleset_version: str
    dry_run: bool
    checked: int = 0
    changed: Counter = field(default_factory=Counter)  # new status -> ads
    skipped: int = 0  # judged differently, but changed by someone else meanwhile
    changed_ids: list = field(default_factory=list)


def live_approved_ads(*, retailer_id=None):
    now = timezone.now()
    ads = Ad.objects.filter(status=AdStatus.APPROVED).filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now))
    return ads.filter(retailer_id=retailer_id) if retailer_id is not None else ads


def ads_revalidate(
    *,
    ruleset: Ruleset,
    retailer_id: uuid.UUID | None = None,
    dry_run: bool = False,
    batch_size: int = 500,
    on_batch: Callable[[int], None] | None = None,
) -> RevalidationResult:
    """Judge the live approved ads (of one retailer, or all) with `ruleset`; record each
    verdict that is no longer `approved` (unless `dry_run`). Returns what it found."""
    result = RevalidationResult(ruleset_version=ruleset.version, dry_run=dry_run)
    scope = live_approved_ads(retailer_id=retailer_id)
    after = None
    while True:
        page = scope.filter(id__gt=after) if after else scope
        ads = list(page.select_related("retailer").order_by("id")[:batch_size])
        if not ads:
            break
        after = ads[-1].id
        # Judged outside any transaction, as intake does: the external validator may take long.
        verdicts = evaluate_many(ads, ruleset=ruleset)
        changed = {ad: verdicts[ad.id] for ad in ads if verdicts[ad.id].status != AdStatus.APPROVED}
        result.checked += len(ads)
        if changed and dry_run:
            result.changed.update(v.status for v in changed.values())
            result.changed_ids += [ad.id for ad in changed]
        elif changed:
            recorded = _verdicts_record(changed=changed, ruleset=ruleset)
            result.changed.update(verdicts[ad_id].status for ad_id in recorded)
            result.changed_ids += recorded
            result.skipped += len(changed) - len(recorded)
        if on_batch:
            on_batch(len(ads))
    return result


def _verdicts_record(*, changed: dict, ruleset: Ruleset) -> list[uuid.UUID]:
    """Record the new verdicts of the ads still approved at the version judged, each as the
    next version of its ad, with its findings and an `ad.revalidated` audit entry; publish
    their projection after commit. Returns the ids recorded."""
    judged_at = {ad.id: ad.version for ad in changed}
    verdicts = {ad.id: verdict for ad, verdict in changed.items()}
    now = timezone.now()
    with transaction.atomic():
        locked = list(
            Ad.objects.select_for_update()
            .filter(id__in=list(judged_at), status=AdStatus.APPROVED)
            .order_by("id")
            .values_list("id", "retailer_id", "intake_event_id", "version", "ruleset_version")
        )
        locked = [row for row in locked if row[3] == judged_at[row[0]]]
        if not locked:
            return []
        rows, records, events, by_outcome = [], [], {}, {}
        for ad_id, retailer_id, intake_event_id, version, previous_ruleset in locked:
            verdict = verdicts[ad_id]
            event_id = derived_event_id(intake_event_id, f"revalidated:{ruleset.version}")
            rows.append(
                (ad_id, event_id, version + 1, verdict.status, Verdict.Source.ENGINE, ruleset.version, "", "", now)
            )
            if verdict.findings:
                events[ad_id] = event_id
            records.append(
                AuditRecord(
                    event_id=event_id,
                    action="ad.revalidated",
                    actor=REVALIDATOR_ACTOR,
                    ad_id=ad_id,
                    retailer_id=retailer_id,
                    data={
                        "status": verdict.status,
                        "previous_status": AdStatus.APPROVED,
                        "version": version + 1,
                        "ruleset_version": ruleset.version,
                        "previous_ruleset_version": previous_ruleset,
                        "findings": [f.as_dict() for f in verdict.findings],
                    },
                    occurred_at=now,
                )
            )
            by_outcome.setdefault(verdict.status, []).append(ad_id)
        rows_insert(model=Verdict, columns=_VERDICT_COLUMNS, rows=rows)
        _findings_insert(verdicts=verdicts, events=events)
        for status, ids in by_outcome.items():
            # Each locked row is at the version judged: one more, whatever it was.
            Ad.objects.filter(id__in=ids).update(
                status=status,
                version=F("version") + 1,
                reviewed_at=now,
                ruleset_version=ruleset.version,
                decided_at=None,  # a new judgement: no staff decision (as a change's)
            )
        # An appeal of a staff approval contests a verdict this replaces.
        records += appeals_supersede(versions={row[0]: row[3] + 1 for row in locked}, now=now, actor=REVALIDATOR_ACTOR)
        audit_record_many(records=records)
        outbox_project(ad_ids=[row[0] for row in locked])
        counts = Counter((row[3], Verdict.Source.ENGINE) for row in rows)
        transaction.on_commit(lambda: _count_verdicts(counts))
    return [row[0] for row in locked]
