"""Reviewers' claims on the items of the review queue: "being reviewed by" so that two
reviewers do not work on the same ad, lapsing after REVIEW_CLAIM_MINUTES."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from adplatform.kernel.ids import new_id
from audit.services import audit_record

from ..models import Ad, AdStatus, ApprovalProposal, ReviewClaim, Verdict
from ..review import DISPOSITIONS, REASON_CODE_BY_NAME, current_findings, iso_time
from ..validation.rules import REJECT
from .decisions import DecisionError, ad_decide


class ClaimError(ValueError):
    pass


def review_claim(*, ad_id, reviewer: str) -> ReviewClaim:
    """Claim a held ad for `reviewer` (or extend the reviewer's own claim). Raises ClaimError
    if the ad is not held for review, or another reviewer holds an unexpired claim."""
    now = timezone.now()
    with transaction.atomic():
        ad = Ad.objects.select_for_update().get(id=ad_id)  # serialises claims of one ad
        if ad.status != AdStatus.NEEDS_REVIEW:  # a decided ad's page has no claim button, a forged POST
            raise ClaimError(f"This ad is not held for review: it is {ad.status}.")
        claim = ReviewClaim.objects.filter(ad=ad).first()
        if claim and claim.active(now) and claim.reviewer != reviewer:
            raise ClaimError(f"Being reviewed by {claim.reviewer} until {iso_time(claim.expires_at)}.")
        expires = now + timedelta(minutes=settings.REVIEW_CLAIM_MINUTES)
        claim, _ = ReviewClaim.objects.update_or_create(
            ad=ad, defaults={"reviewer": reviewer, "claimed_at": now, "expires_at": expires}
        )
        audit_record(
            event_id=new_id(),
            action="review.claimed",
            actor=f"staff:{reviewer}",
            ad_id=ad.id,
            retailer_id=ad.retailer_id,
            data={"reviewer": reviewer, "expires_at": expires.isoformat()},
            occurred_at=now,
        )
    return claim


def review_release(*, ad_id, reviewer: str) -> bool:
    """Drop the reviewer's claim on an ad. False if the reviewer held none."""
    with transaction.atomic():
        claim = ReviewClaim.objects.select_for_update().filter(ad_id=ad_id, reviewer=reviewer).first()
        if claim is None:
            return False
        audit_record(
            event_id=new_id(),
            action="review.released",
            actor=f"staff:{reviewer}",
            ad_id=claim.ad_id,
            data={"reviewer": reviewer},
        )
        claim.delete()
    return True


def active_claims(*, ad_ids) -> dict:
    """{ad id: reviewer} of the unexpired claims on these ads."""
    return dict(
        ReviewClaim.objects.filter(ad_id__in=list(ad_ids), expires_at__gt=timezone.now()).values_list(
            "ad_id", "reviewer"
        )
    )


# --- decisions from the reviewer's page -------------------------------------------------------
class StaleDecision(DecisionError):
    """Someone decided the ad first: says who decided what, and when."""


@dataclass(frozen=True)
class ReviewOutcome:
    ad: Ad
    decided: bool  # False: an approval waits for a second reviewer (four eyes)
    awaiting_second_reviewer: bool = False


def review_check(*, status: str, reason_code: str, reason: str, dispositions: dict, findings: list) -> dict:
    """The decision form's rules, whoever sends it: a reason code of the catalogue that fits
    the decision, a written reason of REVIEW_REASON_MIN_LENGTH characters or more, and every
    finding upheld or overruled (an approval upholds no reject-severity finding). Returns
    the dispositions by finding id (as text)."""
    reason_of = REASON_CODE_BY_NAME.get(reason_code)
    if reason_of is None or reason_of.status != status:
        raise DecisionError(f"Choose a reason code for {'an approval' if status == 'approved' else 'a rejection'}.")
    minimum = settings.REVIEW_REASON_MIN_LENGTH
    if len((reason or "").strip()) < minimum:
        raise DecisionError(f"Write the reason in at least {minimum} characters: it stays on the record.")
    dispositions = {str(k): v for k, v in (dispositions or {}).items()}
    for finding in findings:
        disposition = dispositions.get(str(finding.id))
        if disposition not in DISPOSITIONS:
            raise DecisionError(f"Say whether {finding.code} is upheld or overruled.")
        if status == AdStatus.APPROVED and finding.severity == REJECT and disposition == "upheld":
            raise DecisionError(f"An approval cannot uphold {finding.code}, a reject-severity finding.")
    return {str(f.id): dispositions[str(f.id)] for f in findings}


def stale_message(ad: Ad) -> str:
    """Who decided the ad, what and when (for a reviewer whose decision came second)."""
    verdict = ad.verdicts.filter(source=Verdict.Source.STAFF).order_by("-version").first()
    if verdict is None:
        return f"This ad is no longer held for review: it is {ad.status}."
    return (
        f"Decided first by {verdict.reviewer}: {verdict.status} at {iso_time(verdict.created_at)}, "
        f"“{verdict.reason}” Your decision was not recorded; your reason is still in the form."
    )


def review_decide(
    *,
    ad_id,
    status: str,
    reviewer: str,
    reason_code: str,
    reason: str,
    dispositions: dict,
    expected_version: int | None = None,
    decide=ad_decide,
    **kwargs,
) -> ReviewOutcome:
    """A reviewer's decision from the ad's page (ad_decide with a reason code and the
    disposition of each finding). Under four eyes (REVIEW_FOUR_EYES) an approval that
    overrules a reject-severity finding is first a proposal; a second, different reviewer's
    approval confirms it. The reviewer's claim ends with the decision."""
    ad = Ad.objects.get(id=ad_id)
    findings = current_findings(ad)
    dispositions = review_check(
        status=status, reason_code=reason_code, reason=reason, dispositions=dispositions, findings=findings
    )
    overrules_reject = any(f.severity == REJECT and dispositions[str(f.id)] == "overruled" for f in findings)
    with transaction.atomic():
        locked = Ad.objects.select_for_update().get(id=ad_id)
        if locked.version != (expected_version or ad.version):
            raise StaleDecision(stale_message(locked))
        confirmed_by = ""
        if settings.REVIEW_FOUR_EYES and status == AdStatus.APPROVED and overrules_reject:
            proposal = ApprovalProposal.objects.filter(ad=locked, version=locked.version).first()
            if proposal is None:
                _propose(locked, reviewer, reason_code, reason, dispositions)
                return ReviewOutcome(ad=locked, decided=False, awaiting_second_reviewer=True)
            if proposal.reviewer == reviewer:
                raise DecisionError("Four eyes: a second, different reviewer must confirm this approval.")
            # The proposal is the decision; the confirming reviewer's own words go with it.
            confirmed_by, reviewer = reviewer, proposal.reviewer
            reason_code, dispositions = proposal.reason_code, proposal.dispositions
            kwargs["extra_data"] = {**kwargs.get("extra_data", {}), "confirmation": reason}
            reason = proposal.reason
        try:
            decided = decide(
                ad_id=ad_id,
                status=status,
                reviewer=reviewer,
                reason=reason,
                reason_code=reason_code,
                dispositions=dispositions,
                confirmed_by=confirmed_by,
                **kwargs,
            )
        except DecisionError as exc:
            raise StaleDecision(stale_message(locked)) from exc
        ApprovalProposal.objects.filter(ad_id=ad_id).delete()
        ReviewClaim.objects.filter(ad_id=ad_id).delete()
    return ReviewOutcome(ad=decided, decided=True)


def _propose(ad: Ad, reviewer: str, reason_code: str, reason: str, dispositions: dict) -> None:
    ApprovalProposal.objects.update_or_create(
        ad=ad,
        defaults={
            "version": ad.version,
            "reviewer": reviewer,
            "reason_code": reason_code,
            "reason": reason,
            "dispositions": dispositions,
            "proposed_at": timezone.now(),
        },
    )
    audit_record(
        event_id=new_id(),
        action="ad.approval_proposed",
        actor=f"staff:{reviewer}",
        ad_id=ad.id,
        retailer_id=ad.retailer_id,
        data={"reviewer": reviewer, "reason_code": reason_code, "reason": reason, "dispositions": dispositions},
    )


def next_for_review(*, reviewer: str, after=None) -> Ad | None:
    """The next held ad for a reviewer: the longest held that nobody else is reviewing."""
    others = ReviewClaim.objects.filter(ad=OuterRef("pk"), expires_at__gt=timezone.now()).exclude(reviewer=reviewer)
    queryset = Ad.objects.filter(status=AdStatus.NEEDS_REVIEW).exclude(Exists(others)).order_by("reviewed_at", "id")
    if after is not None:
        queryset = queryset.exclude(id=after)
    return queryset.first()
