"""The CSV export of the ads' lists (every ad, the review queue): the list as filtered and
searched now, streamed whatever its length, for the staff allowed to export (Auditors and
Reviewers, EXPORT_PERMISSION)."""

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.urls import path, reverse

from adplatform.admin_tools import csv_download
from adplatform.csv_cells import csv_safe
from audit.roles import EXPORT_PERMISSION

from ..models import Verdict


class AdCsvExport:
    """A model admin of ads with an "Export CSV" link (admin/ads_write/ad/change_list.html) at
    export/; a subclass adds its columns to csv_columns and their cells to csv_cell."""

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_export": request.user.has_perm(EXPORT_PERMISSION)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_export"
        return [path("export/", self.admin_site.admin_view(self.export_view), name=name), *super().get_urls()]

    def export_view(self, request):
        """The list as filtered and searched now, as CSV, streamed (Auditors and Reviewers)."""
        if not (request.user.has_perm(EXPORT_PERMISSION) and self.has_view_permission(request)):
            raise PermissionDenied
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            self.message_user(request, "Those filters are not valid.", messages.ERROR)
            return HttpResponseRedirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
        return csv_download(self.csv_rows(queryset), name=self.opts.verbose_name_plural.replace(" ", "-"))

    csv_columns = (
        "id",
        "status",
        "retailer",
        "external_ref",
        "headline",
        "category",
        "country",
        "landing_url",
        "submitted_at",
        "reviewed_at",
        "decided_at",
        "finding_codes",
    )

    def csv_rows(self, queryset):
        yield list(self.csv_columns)
        findings = Prefetch("verdicts", queryset=Verdict.objects.prefetch_related("findings"))
        queryset = queryset.select_related("retailer", "review_claim").prefetch_related(None).prefetch_related(findings)
        for ad in queryset.iterator(chunk_size=2000):
            yield [csv_safe(self.csv_cell(ad, column)) for column in self.csv_columns]

    def csv_cell(self, ad, column):
        if column == "retailer":
            return ad.retailer.name
        if column == "finding_codes":
            return " ".join(sorted({f.code for v in ad.verdicts.all() for f in v.findings.all()}))
        value = getattr(ad, column)
        return value.isoformat() if hasattr(value, "isoformat") else value
