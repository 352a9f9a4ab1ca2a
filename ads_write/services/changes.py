"""Changes of an ad's content: what a change is (the changed fields, before and after), and
judging the changes that wait, as a new ad is judged (docs/ad-states.md).

An ad's content columns are its last judged content; a change waits in `AdChange` until the
rules engine judged the content it makes, then becomes the ad's content with its verdict as
a new version of the ad (`ad.changed` in the audit log, and as a webhook). Until then an
approved ad keeps serving its last approved version."""

import copy
import uuid
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from adplatform.kernel.bulk import rows_insert
from audit.services import AuditRecord, audit_record_many

from ..fields import FIELDS_BY_NAME, Kind
from ..models import Ad, AdChange, AdStatus, Verdict
from ..validation.engine import ad_input, evaluate_many
from .appeals import appeals_supersede
from .events import ad_event_data, derived_event_id
from .verdicts import _VERDICT_COLUMNS, VALIDATOR_ACTOR, _count_verdicts, _findings_insert


def content_data(ad: Ad, change: AdChange | None = None) -> dict:
    """The ad's content as event data (JSON-safe, absent fields left out): its judged content,
    with `change` (one waiting for judgement) on top."""
    data = ad_event_data(ad_input(ad))
    for name, value in (change.fields if change else {}).items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def content_diff(*, before: dict, after: dict) -> tuple[dict, dict]:
    """(before, after) of the fields that differ between two contents as event data; a field
    that one side lacks is None there."""
    names = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    return {n: before.get(n) for n in names}, {n: after.get(n) for n in names}


def content_apply(ad: Ad, fields: dict) -> None:
    """Set the ad's content columns to the changed fields (event data; None removes one)."""
    for name, value in fields.items():
        kind = FIELDS_BY_NAME[name].kind
        if kind is Kind.PRICE:
            amount, currency = FIELDS_BY_NAME[name].columns
            setattr(ad, amount, Decimal(value["amount"]) if value else None)
            setattr(ad, currency, value["currency"] if value else "")
        elif kind is Kind.DATETIME:
            setattr(ad, name, datetime.fromisoformat(value) if value else None)
        else:
            field = Ad._meta.get_field(name)
            setattr(ad, name, value if value is not None else (None if field.null else ""))


def pending_change(ad_id) -> AdChange | None:
    return AdChange.objects.filter(ad_id=ad_id, status=AdChange.Status.PENDING).order_by("-id").first()


def changes_judge(*, ad_ids: list) -> list[uuid.UUID]:
    """Judge the changes waiting for the given ads and record each verdict with the content
    it judged, as the ad's next version. Idempotent: a change judged already, superseded or
    withdrawn meanwhile is left alone. Returns the ids of the ads it changed."""
    changes = list(
        AdChange.objects.filter(ad_id__in=list(ad_ids), status=AdChange.Status.PENDING).select_related(
            "ad", "ad__retailer"
        )
    )
    if not changes:
        return []
    candidates = {}
    for change in changes:
        candidate = copy.copy(change.ad)  # the ad as the change would make it, unsaved
        content_apply(candidate, change.fields)
        candidates[change.id] = candidate
    # Judged outside any transaction, as intake does: the external validator may take long.
    verdicts = evaluate_many(list(candidates.values()))
    judged = []
    for change in changes:
        if _verdict_record(change_id=change.id, verdict=verdicts[change.ad_id]):
            judged.append(change.ad_id)
    return judged


def _verdict_record(*, change_id, verdict) -> bool:
    now = timezone.now()
    with transaction.atomic():
        change = AdChange.objects.select_for_update().filter(id=change_id).first()
        ad = Ad.objects.select_for_update().get(id=change.ad_id)
        if change.status != AdChange.Status.PENDING or ad.status == AdStatus.WITHDRAWN:
            return False
        before = content_data(ad)
        content_apply(ad, change.fields)
        ad.status, ad.version, ad.reviewed_at = verdict.status, ad.version + 1, now
        ad.ruleset_version, ad.decided_at = verdict.ruleset_version, None  # a new judgement: no staff decision
        ad.action, ad.action_version = "changed", ad.version
        ad.save()
        event_id = derived_event_id(change.event_id, "judged")
        rows_insert(
            model=Verdict,
            columns=_VERDICT_COLUMNS,
            rows=[
                (
                    ad.id,
                    event_id,
                    ad.version,
                    verdict.status,
                    Verdict.Source.ENGINE,
                    verdict.ruleset_version,
                    "",
                    "",
                    now,
                )
            ],
        )
        _findings_insert(verdicts={ad.id: verdict}, events={ad.id: event_id} if verdict.findings else {})
        change.status, change.judged_at = AdChange.Status.JUDGED, now
        change.verdict_version, change.verdict_status = ad.version, verdict.status
        change.save(update_fields=["status", "judged_at", "verdict_version", "verdict_status"])
        old, new = content_diff(before=before, after=content_data(ad))
        superseded = appeals_supersede(versions={ad.id: ad.version}, now=now, actor=VALIDATOR_ACTOR)
        audit_record_many(
            records=[
                AuditRecord(
                    event_id=event_id,
                    action="ad.changed",
                    actor=VALIDATOR_ACTOR,
                    ad_id=ad.id,
                    retailer_id=ad.retailer_id,
                    data={
                        "status": verdict.status,
                        "version": ad.version,
                        "change_version": change.version,
                        "ruleset_version": verdict.ruleset_version,
                        "findings": [f.as_dict() for f in verdict.findings],
                        "before": old,
                        "after": new,
                    },
                    occurred_at=now,
                ),
                *superseded,
            ]
        )
        transaction.on_commit(lambda: _count_verdicts({(verdict.status, Verdict.Source.ENGINE): 1}))
    return True
