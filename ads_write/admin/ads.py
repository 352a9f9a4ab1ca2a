"""Every ad in the admin, read-only: the list (filters, search, CSV export), the ad's page
with its changes, verdicts, findings and audit timeline, and "History" as that timeline; and
the verdict and finding lists."""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse

from adplatform.admin_tools import DateRangeFilter, ReadOnlyAdmin, parse_uuid
from audit.selectors import audit_entries_for_ad

from ..fields import admin_fieldsets
from ..models import Finding, Verdict
from .changes import changes_side_by_side
from .export import AdCsvExport
from .filters import AD_FILTERS, FindingCodeInput, ad_search, by_ad_id


class AdAdmin(AdCsvExport, ReadOnlyAdmin):
    list_display = ("headline", "status", "retailer", "category", "country", "external_ref", "submitted_at")
    list_select_related = ("retailer",)
    # And the date staff decided (an index too).
    list_filter = ("status", *AD_FILTERS, ("decided_at", DateRangeFilter))
    search_fields = ("id", "external_ref", "headline", "landing_url")
    search_help_text = (
        "An ad id or part of one, part of an external ref, headline, landing URL or retailer name, or a finding "
        "code (any case)."
    )
    change_list_template = "admin/ads_write/ad/change_list.html"
    ordering = ("-submitted_at", "-id")
    readonly_fields = ("id", "price", "changes")
    # The price and the changes are the methods below.
    fieldsets = (*admin_fieldsets(), ("The retailer's changes", {"fields": ("changes",)}))
    change_form_template = "admin/ads_write/ad/change_form.html"

    @admin.display(description="price")
    def price(self, ad):
        return f"{ad.price_amount} {ad.price_currency}" if ad.price_amount is not None else "—"

    @admin.display(description="changes, side by side")
    def changes(self, ad):
        return changes_side_by_side(ad)

    def get_search_results(self, request, queryset, search_term):
        return ad_search(queryset, search_term), False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None and changelist.query and changelist.result_count == 0:
            # Rendered after this (a TemplateResponse), so the message shows on this page.
            self.message_user(
                request,
                f"No {self.opts.verbose_name_plural} match “{changelist.query}”. The search looks for an id or part "
                "of one, part of an external ref, headline or landing URL, a retailer's name, or a finding code.",
                messages.WARNING,
            )
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ad_id = parse_uuid(object_id)
        extra_context = {**(extra_context or {}), **(self._history(ad_id) if ad_id else {})}
        return super().change_view(request, object_id, form_url, extra_context)

    def history_view(self, request, object_id, extra_context=None):
        """ "History" is the ad's audit timeline (Django's own log records no admin changes
        here: every change goes through an audited service)."""
        ad = self.get_object(request, object_id)
        if ad is None or not self.has_view_permission(request, ad):
            raise Http404 if ad is None else PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            **self._history(ad.id),
            "title": f"History: {ad.headline}",
            "subtitle": None,
            "opts": self.opts,
            "original": ad,
            "object": ad,
        }
        return TemplateResponse(request, "admin/ads_write/ad/history.html", context)

    @staticmethod
    def _history(ad_id) -> dict:
        timeline = [
            (entry, json.dumps(entry.data, indent=2, sort_keys=True, ensure_ascii=False))
            for entry in audit_entries_for_ad(ad_id=ad_id)
        ]
        verdicts = Verdict.objects.filter(ad_id=ad_id).prefetch_related("findings").order_by("version")
        return {"timeline": timeline, "verdicts": verdicts}


class FindingInline(admin.TabularInline):
    model = Finding
    fields = ("code", "category", "severity", "field", "message", "evidence")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class VerdictAdmin(ReadOnlyAdmin):
    list_display = ("ad", "version", "status", "source", "reviewer", "ruleset_version", "created_at")
    list_select_related = ("ad",)
    list_filter = ("status", "source", ("created_at", DateRangeFilter))
    search_fields = ("ad__id",)
    search_help_text = "An ad id."
    ordering = ("-id",)
    inlines = (FindingInline,)

    def get_search_results(self, request, queryset, search_term):
        return by_ad_id(queryset, search_term, "ad_id")


class FindingAdmin(ReadOnlyAdmin):
    list_display = ("code", "severity", "category", "field", "message", "verdict")
    list_select_related = ("verdict",)
    list_filter = ("severity", "category", FindingCodeInput)
    search_fields = ("verdict__ad__id",)
    search_help_text = "An ad id."
    ordering = ("-id",)

    def get_search_results(self, request, queryset, search_term):
        return by_ad_id(queryset, search_term, "verdict__ad_id")
