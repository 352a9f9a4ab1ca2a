"""The audit log in the admin: a read-only list with filters, a chain verification button,
and a streamed CSV export of the filtered list."""

import json

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from adplatform.admin_tools import DateRangeFilter, InputFilter, ReadOnlyAdmin, csv_download, parse_uuid
from adplatform.kernel.models import Retailer

from .models import AuditEntry
from .selectors import audit_actions, audit_chain_verify, audit_csv_rows


class ActionFilter(admin.SimpleListFilter):
    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [(action, action) for action in audit_actions()]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class ActorFilter(InputFilter):
    title = "actor"
    parameter_name = "actor"
    placeholder = "exact, e.g. staff:alice"

    def filter(self, queryset, value):
        return queryset.filter(actor=value)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    # recorded_at is taken right after the entry's sequence number, so it rises with the
    # sequence; occurred_at is when the change happened (a verdict's entry may be written
    # later than another that happened after it).
    list_display = (
        "sequence",
        "recorded_at",
        "occurred_at",
        "actor_name",
        "action",
        "ad_link",
        "retailer",
        "short_hash",
    )
    list_filter = (ActionFilter, ActorFilter, ("occurred_at", DateRangeFilter))
    search_fields = ("ad_id",)
    search_help_text = "An ad id: all of that ad's entries."
    ordering = ("-sequence",)
    fields = (
        "sequence",
        "event_id",
        "occurred_at",
        "recorded_at",
        "actor",
        "action",
        "ad_link",
        "retailer_id",
        "data_json",
        "chain",
        "key_id",
        "prev_hash",
        "hash",
    )
    readonly_fields = fields
    change_list_template = "admin/audit/auditentry/change_list.html"

    @admin.display(description="ad", ordering="ad_id")
    def ad_link(self, entry):
        if not entry.ad_id:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:ads_write_ad_change", args=[entry.ad_id]), entry.ad_id)

    def get_queryset(self, request):
        # The retailer's name with each row (a primary-key lookup each), not its UUID.
        name = Retailer.objects.filter(id=OuterRef("retailer_id")).values("name")[:1]
        return super().get_queryset(request).annotate(retailer_name=Subquery(name))

    @admin.display(description="retailer", ordering="retailer_id")
    def retailer(self, entry):
        return getattr(entry, "retailer_name", None) or entry.retailer_id or "—"

    @admin.display(description="actor", ordering="actor")
    def actor_name(self, entry):
        # retailer:<uuid>/key:<prefix> → "Nimbus (key <prefix>)"; staff and system as they are.
        if entry.actor.startswith("retailer:") and getattr(entry, "retailer_name", None):
            key = entry.actor.partition("/key:")[2]
            return f"{entry.retailer_name} (key {key})" if key else entry.retailer_name
        return entry.actor

    @admin.display(description="hash")
    def short_hash(self, entry):
        return entry.hash[:12] + "…"

    @admin.display(description="data")
    def data_json(self, entry):
        return format_html("<pre>{}</pre>", json.dumps(entry.data, indent=2, sort_keys=True, ensure_ascii=False))

    def get_search_results(self, request, queryset, search_term):
        # Only an ad id is searched: an index lookup, where a text match would scan the log.
        if not search_term.strip():
            return queryset, False
        ad_id = parse_uuid(search_term)
        return (queryset.filter(ad_id=ad_id) if ad_id else queryset.none()), False

    def get_urls(self):
        return [
            path("verify/", self.admin_site.admin_view(self.verify_view), name="audit_auditentry_verify"),
            path("export/", self.admin_site.admin_view(self.export_view), name="audit_auditentry_export"),
            *super().get_urls(),
        ]

    def verify_view(self, request):
        """Walk the chain (for AUDIT_VERIFY_ADMIN_SECONDS at most) and say whether it is intact.
        POST: it reads every entry."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = audit_chain_verify(seconds=settings.AUDIT_VERIFY_ADMIN_SECONDS)
        level = messages.ERROR if not report.ok else messages.SUCCESS if report.complete else messages.WARNING
        self.message_user(request, str(report), level)
        return HttpResponseRedirect(reverse("admin:audit_auditentry_changelist"))

    def export_view(self, request):
        """The entries of the list as filtered and searched now, as CSV, streamed."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            self.message_user(request, "Those filters are not valid.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:audit_auditentry_changelist"))
        return csv_download(audit_csv_rows(queryset), name="audit-entries")
