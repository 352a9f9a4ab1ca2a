"""Reviewers' claims on the items of the review queue: "being reviewed by" so that two
reviewers do not work on the same ad, lapsing after REVIEW_CLAIM_MINUTES."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from adplatform.kernel.ids import new_id
from audit.services import audit_record

from ..models import Ad, ReviewClaim


class ClaimError(ValueError):
    pass


def review_claim(*, ad_id, reviewer: str) -> ReviewClaim:
    """Claim an ad for `reviewer` (or extend the reviewer's own claim). Raises ClaimError if
    another reviewer holds an unexpired claim."""
    now = timezone.now()
    with transaction.atomic():
        ad = Ad.objects.select_for_update().get(id=ad_id)  # serialises claims of one ad
        claim = ReviewClaim.objects.filter(ad=ad).first()
        if claim and claim.active(now) and claim.reviewer != reviewer:
            raise ClaimError(
                f"Being reviewed by {claim.reviewer} until {claim.expires_at.isoformat(timespec='seconds')}."
            )
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
