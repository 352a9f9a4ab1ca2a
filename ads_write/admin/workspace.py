"""The review workspace: the queue of held ads (the longest held, the most overdue, first;
who is reviewing each; its CSV) and the reviewer's page of an ad — findings first, the
decision form beside them, claims, and the next item — which the appeals queue shows too."""

import functools

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Prefetch
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from adplatform.admin_tools import parse_uuid
from audit.roles import DECIDE_PERMISSION

from .. import review
from ..models import Ad, AdStatus, ApprovalProposal, ReviewClaim, Verdict
from ..services.reviews import ClaimError, next_for_review, review_claim, review_decide, review_release
from .actions import HeldAdActions
from .ads import AdAdmin
from .filters import AD_FILTERS, ClaimFilter, SlaFilter
from .forms import NextItem, ReviewForm, decision_response
from .sla import age_text, sla_hours, sla_markup


class HeldAdAdmin(HeldAdActions, NextItem, AdAdmin):
    """The review queue: the longest held (the most overdue) first."""

    list_display = ("headline", "retailer", "finding_list", "held_for", "claimed_by")
    list_select_related = ("retailer", "review_claim")
    list_filter = (SlaFilter, ClaimFilter, *AD_FILTERS)
    ordering = ("reviewed_at", "id")
    actions = ("approve_held", "reject_held", "claim_held", "release_held")
    csv_columns = (*AdAdmin.csv_columns, "held_hours", "overdue", "claimed_by")

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Review queue: ads held for review", **(extra_context or {})})

    def get_queryset(self, request):
        engine_verdicts = Verdict.objects.filter(version=review.latest_engine_verdict(OuterRef("ad"))).prefetch_related(
            "findings"
        )
        return (
            super()
            .get_queryset(request)
            .filter(status=AdStatus.NEEDS_REVIEW)
            .prefetch_related(Prefetch("verdicts", queryset=engine_verdicts))
        )

    @admin.display(description="findings")
    def finding_list(self, ad):
        codes = sorted({f.code for v in ad.verdicts.all() for f in v.findings.all()})
        return format_html_join(mark_safe("<br>"), "{}", ((code,) for code in codes)) if codes else "—"

    @admin.display(description="held for (SLA)", ordering="reviewed_at")
    def held_for(self, ad):
        if not ad.reviewed_at:
            return "—"
        return format_html("{}<br>{}", age_text(timezone.now() - ad.reviewed_at), self.sla(ad))

    @admin.display(description="SLA")
    def sla(self, ad):
        return sla_markup(ad.reviewed_at) if ad.reviewed_at else "—"

    @admin.display(description="reviewer")
    def claimed_by(self, ad):
        claim = getattr(ad, "review_claim", None)
        return claim.reviewer if claim is not None and claim.active() else "—"

    def csv_cell(self, ad, column):
        if column == "held_hours":
            return f"{(timezone.now() - ad.reviewed_at).total_seconds() / 3600:.1f}" if ad.reviewed_at else ""
        if column == "overdue":
            return "yes" if ad.reviewed_at and ad.reviewed_at + sla_hours() < timezone.now() else "no"
        if column == "claimed_by":
            claimed = self.claimed_by(ad)
            return "" if claimed == "—" else claimed
        return super().csv_cell(ad, column)

    def has_decide_permission(self, request):
        return request.user.has_perm(DECIDE_PERMISSION)

    def get_object(self, request, object_id, from_field=None):
        # A decided ad's page still opens (read-only, with its decision), however the queue
        # itself lists only held ads.
        ad_id = parse_uuid(object_id)
        return Ad.objects.select_related("retailer").filter(id=ad_id).first() if ad_id else None

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("next/", view(self.next_view), name="ads_write_heldad_next"),
            path("<path:object_id>/decide/", view(self.decide_view), name="ads_write_heldad_decide"),
            path("<path:object_id>/claim/", view(self.claim_view), name="ads_write_heldad_claim"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method != "GET":
            raise PermissionDenied  # nothing changes through the model form
        ad = self.get_object(request, object_id)
        if ad is None:
            raise Http404("No ad with that id.")
        if not self.has_view_permission(request, ad):
            raise PermissionDenied
        return self.review_page(request, ad, form=None)

    def review_page(self, request, ad, *, form, status_code=200, decidable=None, **extra):
        """The reviewer's page: findings first (rule text, evidence highlighted in the ad's
        own text, duplicates linked), the decision form, the ad with its hosts parsed, then
        verdicts and the timeline. A decided ad shows its decision instead of the form.
        The appeals queue shows its items on the same page (decidable, extra context)."""
        findings = review.current_findings(ad)
        views = review.finding_views(ad, findings)
        decidable = ad.status == AdStatus.NEEDS_REVIEW if decidable is None else decidable
        can_decide = self.has_decide_permission(request) and decidable
        if can_decide and form is None:
            form = ReviewForm(findings=findings, initial={"version": ad.version, "then_next": True})
        if not self.has_decide_permission(request):
            form = None
        for view in views:  # each finding with its upheld / overruled choice
            view.disposition = form[f"finding_{view.finding.id}"] if form is not None else None
        claim = ReviewClaim.objects.filter(ad=ad, expires_at__gt=timezone.now()).first()
        proposal = ApprovalProposal.objects.filter(ad=ad, version=ad.version).first()
        decision = ad.verdicts.filter(source=Verdict.Source.STAFF).order_by("-version").first()
        landing = review.host_report(ad.landing_url)
        display = review.host_report(ad.display_url)
        context = {
            **self.admin_site.each_context(request),
            **self._history(ad.id),
            "title": ad.headline,
            "subtitle": None,
            "opts": self.opts,
            "original": ad,
            "ad": ad,
            "finding_views": views,
            "fields": review.highlighted_fields(ad, views),
            "hosts": [
                (name, report, review.host_markup(report))
                for name, report in (("landing", landing), ("display", display))
                if report
            ],
            "form": form,  # a stale decision's form stays, with what the reviewer typed
            "can_decide": can_decide,
            "decidable": decidable,
            "claim": claim,
            "claimed_by_me": claim is not None and claim.reviewer == request.user.get_username(),
            "proposal": proposal,
            "decision": decision,
            "held_for": age_text(timezone.now() - ad.reviewed_at) if ad.reviewed_at else None,
            "overdue": bool(ad.reviewed_at and ad.reviewed_at + sla_hours() < timezone.now()),
            "reason_min_length": settings.REVIEW_REASON_MIN_LENGTH,
            "four_eyes": settings.REVIEW_FOUR_EYES,
            "decide_url": reverse("admin:ads_write_heldad_decide", args=[ad.pk]),
            "next_url": reverse("admin:ads_write_heldad_next") + f"?after={ad.pk}",
            "queue_url": reverse("admin:ads_write_heldad_changelist"),
            "queue_name": "Ads held for review",
            "item_name": "held ad",
            "show_claim": ad.status == AdStatus.NEEDS_REVIEW,
            **extra,
        }
        return TemplateResponse(request, "admin/ads_write/heldad/review.html", context, status=status_code)

    def _posted(self, request, object_id):
        """The ad a reviewer's POST (decision, claim) is about; a GET goes back to its page."""
        if request.method != "POST":
            return None
        if not self.has_decide_permission(request):
            raise PermissionDenied
        ad = self.get_object(request, object_id)
        if ad is None:
            raise Http404("No ad with that id.")
        return ad

    def decide_view(self, request, object_id):
        ad = self._posted(request, object_id)
        if ad is None:
            return HttpResponseRedirect(reverse("admin:ads_write_heldad_change", args=[object_id]))

        def page(form, status_code):
            ad.refresh_from_db()
            return self.review_page(request, ad, form=form, status_code=status_code)

        def done(status):
            return f"{'Approved' if status == AdStatus.APPROVED else 'Rejected'} “{ad.headline}”. Reason recorded."

        return decision_response(
            self,
            request,
            ad=ad,
            page=page,
            decide=functools.partial(review_decide, ad_id=ad.id),
            done=done,
            open_next=lambda: self._open_next(request, after=ad.id),
            queue_url=reverse("admin:ads_write_heldad_changelist"),
        )

    def _open_next(self, request, *, after):
        """The next held ad nobody else is reviewing, claimed for the reviewer; or the queue."""
        me = request.user.get_username()
        following = next_for_review(reviewer=me, after=after)
        if following is None:
            self.message_user(request, "The queue is empty: nothing else is waiting for review.", messages.INFO)
            return HttpResponseRedirect(reverse("admin:ads_write_heldad_changelist"))
        if self.has_decide_permission(request):
            try:
                review_claim(ad_id=following.id, reviewer=me)
            except ClaimError:
                pass  # claimed a moment ago by someone else: the page says by whom
        return HttpResponseRedirect(reverse("admin:ads_write_heldad_change", args=[following.id]))

    def claim_view(self, request, object_id):
        ad = self._posted(request, object_id)
        if ad is None:
            return HttpResponseRedirect(reverse("admin:ads_write_heldad_change", args=[object_id]))
        me = request.user.get_username()
        if request.POST.get("release"):
            review_release(ad_id=ad.id, reviewer=me)
            self.message_user(request, "Released: others may review this ad now.", messages.SUCCESS)
        else:
            try:
                review_claim(ad_id=ad.id, reviewer=me)
                self.message_user(
                    request, f"You are reviewing this ad for {settings.REVIEW_CLAIM_MINUTES} minutes.", messages.SUCCESS
                )
            except ClaimError as exc:
                self.message_user(request, str(exc), messages.WARNING)
        return HttpResponseRedirect(reverse("admin:ads_write_heldad_change", args=[ad.id]))
