"""The review queue's actions on several held ads at once: approve or reject them (with a
policy reason code and a written reason, asked for on a page of its own), claim them, release
them. Offered to Reviewers only, and refused to a forged POST (requires_permission)."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied

from adplatform.admin_tools import action_form_page, requires_permission
from audit.roles import DECIDE_PERMISSION

from .. import review
from ..models import AdStatus
from ..services.decisions import DecisionError
from ..services.reviews import ClaimError, review_claim, review_decide, review_release
from .forms import DecisionForm

# One decision form covers at most this many ads: each is its own audited transaction.
MAX_DECISIONS_AT_ONCE = 200


class HeldAdActions:
    """The queue's actions, for HeldAdAdmin (which says who may decide: has_decide_permission)."""

    @requires_permission(DECIDE_PERMISSION)
    @admin.action(description="Claim selected ads for me (“being reviewed by”)")
    def claim_held(self, request, queryset):
        if not self.has_decide_permission(request):
            raise PermissionDenied
        me, taken = request.user.get_username(), []
        for ad in queryset[:MAX_DECISIONS_AT_ONCE]:
            try:
                review_claim(ad_id=ad.id, reviewer=me)
            except ClaimError as exc:
                taken.append(f"“{ad.headline}”: {exc}")
        minutes = settings.REVIEW_CLAIM_MINUTES
        self.message_user(
            request, f"Claimed for {minutes} minutes, unless decided or released before.", messages.SUCCESS
        )
        if taken:
            self.message_user(request, "Not claimed: " + "; ".join(taken), messages.WARNING)

    @requires_permission(DECIDE_PERMISSION)
    @admin.action(description="Release my claims on the selected ads")
    def release_held(self, request, queryset):
        if not self.has_decide_permission(request):
            raise PermissionDenied
        released = sum(review_release(ad_id=ad.id, reviewer=request.user.get_username()) for ad in queryset)
        self.message_user(request, f"Released {released} claim(s).", messages.SUCCESS)

    @requires_permission(DECIDE_PERMISSION)
    @admin.action(description="Approve selected ads (with a reason)…")
    def approve_held(self, request, queryset):
        return self._decide(request, queryset, AdStatus.APPROVED)

    @requires_permission(DECIDE_PERMISSION)
    @admin.action(description="Reject selected ads (with a reason)…")
    def reject_held(self, request, queryset):
        return self._decide(request, queryset, AdStatus.REJECTED)

    def _decide(self, request, queryset, status):
        """First the form page asking for the reason; once it is given, the decision."""
        if not self.has_decide_permission(request):
            raise PermissionDenied
        ads = list(queryset.order_by("submitted_at", "id")[: MAX_DECISIONS_AT_ONCE + 1])
        if not ads:
            self.message_user(request, "None of the selected ads is still held for review.", messages.WARNING)
            return None
        if len(ads) > MAX_DECISIONS_AT_ONCE:
            self.message_user(request, f"Decide at most {MAX_DECISIONS_AT_ONCE} ads at once.", messages.ERROR)
            return None
        form = DecisionForm(request.POST if "apply" in request.POST else None, status=status)
        if form.is_valid():
            self._apply(request, ads, status, form.cleaned_data["reason_code"], form.cleaned_data["reason"])
            return None  # back to the queue, with the messages
        return action_form_page(
            self,
            request,
            template="admin/ads_write/heldad/decide.html",
            form=form,
            selected=[ad.pk for ad in ads],
            title=f"{'Approve' if status == AdStatus.APPROVED else 'Reject'} ads held for review",
            ads=ads,
            status=status,
        )

    def _apply(self, request, ads, status, reason_code, reason):
        reviewer = request.user.get_username()
        disposition = "overruled" if status == AdStatus.APPROVED else "upheld"
        decided, proposed, failed = [], [], []
        for ad in ads:
            try:
                outcome = review_decide(
                    ad_id=ad.id,
                    status=status,
                    reviewer=reviewer,
                    reason_code=reason_code,
                    reason=reason,
                    dispositions={f.id: disposition for f in review.current_findings(ad)},
                    expected_version=ad.version,
                )
                (decided if outcome.decided else proposed).append(ad)
            except DecisionError as exc:
                failed.append(f"“{ad.headline}”: {exc}")
        if proposed:
            names = ", ".join(f"“{ad.headline}”" for ad in proposed)
            self.message_user(
                request, f"Approval proposed (four eyes: a second reviewer must confirm): {names}.", messages.WARNING
            )
        held_ids = {str(ad.id) for ad in ads}
        gone = [i for i in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME) if i not in held_ids]
        if decided:
            names = ", ".join(f"“{ad.headline}”" for ad in decided)
            message = f"{status.capitalize()} {len(decided)} ad(s): {names}. Reason recorded."
            self.message_user(request, message, messages.SUCCESS)
        if failed:
            self.message_user(request, "Not decided: " + "; ".join(failed), messages.ERROR)
        if gone:
            self.message_user(
                request,
                f"{len(gone)} selected ad(s) are no longer held for review (decided meanwhile?).",
                messages.WARNING,
            )
