"""Appeals: a retailer contests the verdict of its ad (rejected, or decided by staff) once
per verdict version; a reviewer decides, which gives the ad a new verdict version. Both are
audited and projected through the outbox like every state change: the appeal shows in the
ad's read document, and its decision is announced as the webhook `ad.appeal_decided`."""

from django.db import transaction
from django.db.models import F, Max, OuterRef, Subquery
from django.utils import timezone

from adplatform.kernel.auth import Caller
from adplatform.kernel.ids import new_id
from adplatform.problems import problem
from audit.services import AuditRecord, audit_record, audit_record_many

from ..models import Ad, AdStatus, Appeal, Verdict
from .decisions import DecisionError, ad_decide
from .events import derived_event_id
from .outbox import outbox_project
from .reviews import ReviewOutcome, review_decide


def appealable(ad: Ad) -> bool:
    # A withdrawn ad is final (docs/ad-states.md): nothing left to contest.
    return ad.status != AdStatus.WITHDRAWN and (ad.status == AdStatus.REJECTED or ad.decided_at is not None)


def appeal_submit(*, caller: Caller, ad_id, message: str) -> Appeal:
    """The retailer's appeal of its ad's current verdict. Raises the 404, `appeal-not-allowed`
    and `appeal-exists` problems."""
    now = timezone.now()
    with transaction.atomic():
        ad = Ad.objects.select_for_update().filter(id=ad_id, retailer=caller.retailer).first()
        if ad is None:
            raise problem("not-found", detail="No such ad for your account.")
        if not appealable(ad):
            raise problem(
                "appeal-not-allowed",
                detail=f"Only a rejected ad, or one decided by staff, can be appealed; this one is {ad.status}.",
            )
        verdict_version = current_verdict_version(ad.id) or ad.version
        earlier = Appeal.objects.filter(ad=ad, verdict_version=verdict_version).first()
        if earlier is not None:
            raise problem(
                "appeal-exists",
                detail=f"This verdict (version {verdict_version}) was appealed already "
                f"({earlier.status}); an ad is appealed once per verdict.",
                appeal_id=str(earlier.id),
            )
        ad.version += 1  # a state change the read side must see (the appeal in its document)
        ad.command_at = now  # the read-model sweep's window, as for the other commands
        ad.save(update_fields=["version", "command_at"])
        appeal = Appeal.objects.create(
            ad=ad,
            retailer=caller.retailer,
            verdict_version=verdict_version,
            submitted_version=ad.version,
            message=message,
            submitted_at=now,
        )
        audit_record(
            event_id=new_id(),
            action="ad.appealed",
            actor=caller.actor,
            ad_id=ad.id,
            retailer_id=ad.retailer_id,
            data={
                "appeal_id": str(appeal.id),
                "verdict_version": verdict_version,
                "version": ad.version,
                "message": message,
            },
            occurred_at=now,
        )
        outbox_project(ad_ids=[ad.id])
    return appeal


def current_verdict_version(ad_id) -> int | None:
    return Verdict.objects.filter(ad_id=ad_id).aggregate(v=Max("version"))["v"]


def appeal_superseded(appeal: Appeal) -> int | None:
    """The ad's newer verdict version if the ad was judged again since the appeal (a change
    of its content, a revalidation): the appeal contests a verdict that no longer stands.
    Recorded on the appeal since it is closed with the new verdict (appeals_supersede); found
    from the verdicts for an appeal left open before that (or decided: None)."""
    if appeal.status == Appeal.Status.SUPERSEDED:
        return appeal.decided_version
    if appeal.status != Appeal.Status.OPEN:
        return None
    current = current_verdict_version(appeal.ad_id)
    return current if current is not None and current != appeal.verdict_version else None


def appeals_supersede(*, versions: dict, now, actor: str) -> list[AuditRecord]:
    """Close the open appeals of ads judged again, inside the caller's transaction (which
    records the new verdicts: `versions` maps each ad id to its new verdict's version). Each
    contests a verdict that no longer stands: no reviewer may decide it (appeal_decide
    refuses), and the retailer sees it superseded instead of open for ever. Returns their
    `ad.appeal_superseded` audit records, for the caller's one audit call."""
    open_appeals = Appeal.objects.select_for_update().filter(ad_id__in=list(versions), status=Appeal.Status.OPEN)
    # (An appeal of the standing verdict itself stays open: appeals_supersede_stale passes it.)
    superseded = [a for a in open_appeals.order_by("id") if a.verdict_version != versions[a.ad_id]]
    records = []
    for appeal in superseded:
        appeal.status, appeal.decided_at = Appeal.Status.SUPERSEDED, now
        appeal.decided_version = versions[appeal.ad_id]
        records.append(
            AuditRecord(
                event_id=derived_event_id(appeal.id, f"superseded:{appeal.decided_version}"),
                action="ad.appeal_superseded",
                actor=actor,
                ad_id=appeal.ad_id,
                retailer_id=appeal.retailer_id,
                data={
                    "appeal_id": str(appeal.id),
                    "appealed_version": appeal.verdict_version,
                    "version": appeal.decided_version,
                },
                occurred_at=now,
            )
        )
    Appeal.objects.bulk_update(superseded, ["status", "decided_at", "decided_version"])
    return records


def appeals_supersede_stale(*, actor: str) -> int:
    """Close the appeals left open on ads judged again before appeals_supersede existed (or by
    any path that missed it): each ad's, under its lock, with the audit records and projection
    of appeals_supersede. Returns how many it closed."""
    newest = Verdict.objects.filter(ad_id=OuterRef("ad_id")).order_by("-version").values("version")[:1]
    stale = (
        Appeal.objects.filter(status=Appeal.Status.OPEN)
        .annotate(current=Subquery(newest))
        .filter(current__isnull=False)
        .exclude(verdict_version=F("current"))
        .values_list("ad_id", flat=True)
        .distinct()
    )
    closed = 0
    for ad_id in sorted(stale):
        with transaction.atomic():
            Ad.objects.select_for_update().filter(id=ad_id).first()  # serialises with decisions
            current = current_verdict_version(ad_id)
            records = appeals_supersede(versions={ad_id: current}, now=timezone.now(), actor=actor)
            if not records:
                continue  # decided meanwhile
            audit_record_many(records=records)
            outbox_project(ad_ids=[ad_id])
            closed += len(records)
    return closed


def appeal_decide(*, appeal_id, **decision) -> ReviewOutcome:
    """A reviewer's decision on an open appeal: approve (the verdict is overturned) or reject
    (it stands), with a reason code, a written reason and the disposition of each finding —
    the arguments and rules, four eyes included, of a decision on a held ad (review_decide).
    The ad gets a new verdict version by that reviewer, audited as `ad.appeal_decided`.
    Refused once the ad has a newer verdict than the one appealed (the ad's version, checked
    under its lock by review_decide, catches a verdict that comes while the reviewer reads)."""
    appeal = Appeal.objects.get(id=appeal_id)
    newer = appeal_superseded(appeal)
    if newer is not None:
        raise DecisionError(
            f"The ad was judged again since this appeal (verdict version {newer}, the appeal contests "
            f"version {appeal.verdict_version}): the appealed verdict no longer stands, so it is not decided here."
        )

    def decide(**decision) -> Ad:
        locked = Appeal.objects.select_for_update().get(id=appeal.id)
        if locked.status != Appeal.Status.OPEN:
            raise DecisionError("This appeal is decided already.")
        ad = ad_decide(
            **decision,
            action="ad.appeal_decided",
            decidable=appealable,
            extra_data={"appeal_id": str(locked.id), "appealed_version": locked.verdict_version},
        )
        locked.status, locked.decided_at, locked.decided_version = Appeal.Status.DECIDED, ad.decided_at, ad.version
        locked.decided_by, locked.decision_status = decision["reviewer"], decision["status"]
        locked.decision_reason_code, locked.decision_reason = decision["reason_code"], decision["reason"]
        locked.save()
        return ad

    return review_decide(ad_id=appeal.ad_id, decide=decide, **decision)
