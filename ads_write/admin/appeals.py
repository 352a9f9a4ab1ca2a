"""The appeals queue in the admin: retailers' appeals, the open ones first and the oldest of
them first, each on the reviewer's page of its ad with the appeal above the findings.
Reviewers decide (`decide_ad`), through services/appeals.py."""

import functools

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, When
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from adplatform.admin_tools import DateRangeFilter, ReadOnlyAdmin, parse_uuid

from ..models import Appeal, HeldAd
from ..services.appeals import appeal_decide, appeal_superseded
from .filters import SlaFilter
from .forms import NextItem, decision_response
from .sla import age_text, sla_markup


class AppealSlaFilter(SlaFilter):
    since = "submitted_at"

    def narrow(self, value, queryset, request):
        return super().narrow(value, queryset.filter(status=Appeal.Status.OPEN), request)


class AppealAdmin(NextItem, ReadOnlyAdmin):
    change_list_template = "admin/ads_write/ad/change_list.html"  # the workspace's styles
    list_display = ("ad_headline", "retailer", "status", "waiting", "message_start", "decision")
    list_select_related = ("ad", "retailer")
    list_filter = (
        "status",
        AppealSlaFilter,
        "decision_status",
        "retailer",
        ("submitted_at", DateRangeFilter),
        ("decided_at", DateRangeFilter),
    )
    search_fields = ("id",)
    search_help_text = "An appeal's or an ad's id, or part of the retailer's name or the message."
    # Open ones first, the oldest first.
    ordering = (Case(When(status=Appeal.Status.OPEN, then=0), default=1), "submitted_at", "id")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        found = parse_uuid(term)
        if found:
            return queryset.filter(id=found) | queryset.filter(ad_id=found), False
        return queryset.filter(retailer__name__icontains=term) | queryset.filter(message__icontains=term), False

    @admin.display(description="ad", ordering="ad__headline")
    def ad_headline(self, appeal):
        return appeal.ad.headline

    @admin.display(description="waiting (SLA)", ordering="submitted_at")
    def waiting(self, appeal):
        end = appeal.decided_at or timezone.now()
        if appeal.status != Appeal.Status.OPEN:
            return age_text(end - appeal.submitted_at)
        return format_html("{}<br>{}", age_text(end - appeal.submitted_at), self.sla(appeal))

    @admin.display(description="SLA")
    def sla(self, appeal):
        return sla_markup(appeal.submitted_at) if appeal.status == Appeal.Status.OPEN else "—"

    @admin.display(description="message")
    def message_start(self, appeal):
        return Truncator(appeal.message).chars(80)

    @admin.display(description="decision")
    def decision(self, appeal):
        return f"{appeal.decision_status} by {appeal.decided_by}" if appeal.decided_by else "—"

    def has_decide_permission(self, request):
        return request.user.has_perm("ads_write.decide_ad")

    def changelist_view(self, request, extra_context=None):
        context = {"title": "Appeals from retailers", "sla_hours": settings.REVIEW_SLA_HOURS}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("next/", view(self.next_view), name="ads_write_appeal_next"),
            path("<path:object_id>/decide/", view(self.decide_view), name="ads_write_appeal_decide"),
            *super().get_urls(),
        ]

    def _held_admin(self):
        return self.admin_site._registry[HeldAd]  # the reviewer's page is the held-ad admin's

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method != "GET":
            raise PermissionDenied
        appeal = self._appeal(request, object_id)
        return self.appeal_page(request, appeal, form=None)

    def _appeal(self, request, object_id) -> Appeal:
        appeal_id = parse_uuid(object_id)
        appeal = Appeal.objects.select_related("ad__retailer").filter(id=appeal_id).first() if appeal_id else None
        if appeal is None:
            raise Http404("No appeal with that id.")
        if not self.has_view_permission(request, appeal):
            raise PermissionDenied
        return appeal

    def appeal_page(self, request, appeal, *, form, status_code=200):
        superseded_by = appeal_superseded(appeal)
        return self._held_admin().review_page(
            request,
            appeal.ad,
            form=form,
            status_code=status_code,
            decidable=appeal.status == Appeal.Status.OPEN and superseded_by is None,
            appeal=appeal,
            superseded_by=superseded_by,
            appeal_age=age_text(timezone.now() - appeal.submitted_at) if appeal.status == Appeal.Status.OPEN else None,
            opts=self.opts,
            title=f"Appeal: {appeal.ad.headline}",
            decide_url=reverse("admin:ads_write_appeal_decide", args=[appeal.pk]),
            next_url=reverse("admin:ads_write_appeal_next") + f"?after={appeal.pk}",
            queue_url=reverse("admin:ads_write_appeal_changelist"),
            queue_name="Appeals",
            item_name="appeal",
            show_claim=False,
        )

    def decide_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:ads_write_appeal_change", args=[object_id]))
        if not self.has_decide_permission(request):
            raise PermissionDenied
        appeal = self._appeal(request, object_id)

        def page(form, status_code):
            appeal.refresh_from_db()
            appeal.ad.refresh_from_db()
            return self.appeal_page(request, appeal, form=form, status_code=status_code)

        def done(status):
            verb = "granted: the ad is approved" if status == "approved" else "rejected: the verdict stands"
            return f"Appeal on “{appeal.ad.headline}” {verb}. Reason recorded."

        return decision_response(
            self,
            request,
            ad=appeal.ad,
            page=page,
            decide=functools.partial(appeal_decide, appeal_id=appeal.id),
            done=done,
            open_next=lambda: self._open_next(request, after=appeal.id),
            queue_url=reverse("admin:ads_write_appeal_changelist"),
        )

    def _open_next(self, request, *, after):
        following = (
            Appeal.objects.filter(status=Appeal.Status.OPEN).exclude(id=after).order_by("submitted_at", "id").first()
        )
        if following is None:
            self.message_user(request, "No other appeal is waiting.", messages.INFO)
            return HttpResponseRedirect(reverse("admin:ads_write_appeal_changelist"))
        return HttpResponseRedirect(reverse("admin:ads_write_appeal_change", args=[following.id]))
