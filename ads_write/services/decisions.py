"""Compliance staff's decisions on ads held for review."""

from django.db import transaction
from django.utils import timezone

from adplatform.kernel.ids import new_id
from adplatform.kernel.metrics import VERDICTS
from audit.services import AuditRecord, audit_record_many

from ..models import Ad, AdStatus, Verdict
from .outbox import outbox_project


class DecisionError(ValueError):
    pass


def ad_decide(
    *,
    ad_id,
    status: str,
    reviewer: str,
    reason: str,
    reason_code: str = "",
    dispositions: dict | None = None,
    confirmed_by: str = "",
    action: str = "ad.decided",
    decidable=lambda ad: ad.status == AdStatus.NEEDS_REVIEW,
    extra_data: dict | None = None,
) -> Ad:
    """A compliance officer's decision on an ad held for review: approve or reject it with
    a written reason. Audited, and projected through the outbox like any state change.

    The reviewer's page adds a reason code, the disposition of each finding (finding id →
    upheld | overruled) and, under four eyes, the second reviewer who confirmed it. An
    appeal's decision (services/appeals.py) is the same command on another kind of ad
    (`decidable`), audited as its own `action`."""
    if status not in (AdStatus.APPROVED, AdStatus.REJECTED):
        raise DecisionError("A decision is 'approved' or 'rejected'.")
    reason = (reason or "").strip()
    if not reason:
        raise DecisionError("A decision needs a written reason.")
    # The record must say who decided (AD_POLICY.md, "Manual review").
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise DecisionError("A decision needs the reviewer who made it.")
    now = timezone.now()
    with transaction.atomic():
        ad = Ad.objects.select_for_update().get(id=ad_id)
        if not decidable(ad):
            raise DecisionError(f"Only ads held for review can be decided; this one is {ad.status}.")
        event_id = new_id()
        ad.status, ad.version, ad.decided_at = status, ad.version + 1, now
        ad.save(update_fields=["status", "version", "decided_at"])
        Verdict.objects.create(
            ad=ad,
            event_id=event_id,
            version=ad.version,
            status=status,
            source=Verdict.Source.STAFF,
            ruleset_version=ad.ruleset_version,
            reviewer=reviewer,
            reason=reason,
            reason_code=reason_code,
            dispositions=dispositions or {},
            confirmed_by=confirmed_by,
            created_at=now,
        )
        data = {"status": status, "version": ad.version, "reason": reason, "reviewer": reviewer}
        # Only what was given: a plain decision's entry stays as it always was.
        data.update({k: v for k, v in (("reason_code", reason_code), ("dispositions", dispositions)) if v})
        data.update({"confirmed_by": confirmed_by} if confirmed_by else {})
        data.update(extra_data or {})
        audit_record_many(
            records=[
                AuditRecord(
                    event_id=event_id,
                    action=action,
                    actor=f"staff:{confirmed_by or reviewer}",
                    ad_id=ad.id,
                    retailer_id=ad.retailer_id,
                    data=data,
                    occurred_at=now,
                )
            ]
        )
        outbox_project(ad_ids=[ad.id])
        transaction.on_commit(lambda: VERDICTS.labels(status, Verdict.Source.STAFF).inc())
    return ad
