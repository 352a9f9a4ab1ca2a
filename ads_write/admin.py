"""The compliance admin over the command side: every ad with its verdicts, findings and
audit timeline (read-only), and the queue of ads held for review, which staff with the
`decide_ad` permission approve or reject with a written reason (through `ad_decide`, so a
decision is audited and projected like any other state change)."""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Prefetch, Q

from adplatform.admin_tools import (
    DateRangeFilter,
    InputFilter,
    ReadOnlyAdmin,
    action_form_page,
    parse_uuid,
    requires_permission,
)
from audit.roles import DECIDE_PERMISSION
from audit.selectors import audit_entries_for_ad

from .models import Ad, AdStatus, Finding, HeldAd, Verdict
from .services.decisions import DecisionError, ad_decide
from .validation.basic import TAXONOMY

# One decision form covers at most this many ads: each is its own audited transaction.
MAX_DECISIONS_AT_ONCE = 200


class CategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        return [(c, c) for c in sorted(TAXONOMY)]  # the taxonomy, not a DISTINCT over every ad

    def queryset(self, request, queryset):
        return queryset.filter(category=self.value()) if self.value() else queryset


class CountryFilter(InputFilter):
    title = "country"
    parameter_name = "country"
    placeholder = "ISO code, e.g. US"

    def filter(self, queryset, value):
        return queryset.filter(country=value.upper())


class FindingCodeFilter(InputFilter):
    title = "finding code"
    parameter_name = "finding_code"
    placeholder = "e.g. POLICY.EXCESSIVE_CAPS"

    def filter(self, queryset, value):
        return queryset.filter(Exists(Finding.objects.filter(verdict__ad=OuterRef("pk"), code=value)))


class AdAdmin(ReadOnlyAdmin):
    list_display = ("headline", "status", "retailer", "category", "country", "external_ref", "submitted_at")
    list_select_related = ("retailer",)
    # Dates: submitted, judged by detailed validation, decided by staff (each one an index).
    list_filter = (
        "status",
        "retailer",
        CategoryFilter,
        CountryFilter,
        FindingCodeFilter,
        ("submitted_at", DateRangeFilter),
        ("reviewed_at", DateRangeFilter),
        ("decided_at", DateRangeFilter),
    )
    search_fields = ("id", "external_ref", "headline", "landing_url")
    search_help_text = "An ad id, an external ref, or part of the headline or landing URL (e.g. its domain)."
    ordering = ("-submitted_at", "-id")
    readonly_fields = ("id", "price")
    fieldsets = (
        (
            "Ad",
            {
                "fields": (
                    "id",
                    "retailer",
                    "external_ref",
                    "headline",
                    "description",
                    "landing_url",
                    "display_url",
                    "country",
                    "language",
                    "category",
                    "price",
                    "target_min_age",
                    "starts_at",
                    "ends_at",
                    "disclosure",
                    "advertiser_license",
                    "paid_for_by",
                )
            },
        ),
        (
            "State",
            {
                "fields": (
                    "status",
                    "version",
                    "submitted_at",
                    "reviewed_at",
                    "decided_at",
                    "ruleset_version",
                    "intake_event_id",
                )
            },
        ),
    )
    change_form_template = "admin/ads_write/ad/change_form.html"

    @admin.display(description="price")
    def price(self, ad):
        return f"{ad.price_amount} {ad.price_currency}" if ad.price_amount is not None else "—"

    def get_search_results(self, request, queryset, search_term):
        # Each branch is one index: the primary key, external_ref, or the trigram indexes
        # (PostgreSQL) behind the substring match. Django's default would cast the id to
        # text, which no index serves.
        term = search_term.strip()
        if not term:
            return queryset, False
        ad_id = parse_uuid(term)
        if ad_id:
            return queryset.filter(id=ad_id), False
        return queryset.filter(
            Q(external_ref=term) | Q(headline__icontains=term) | Q(landing_url__icontains=term)
        ), False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ad_id = parse_uuid(object_id)
        extra_context = {**(extra_context or {}), **(self._history(ad_id) if ad_id else {})}
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def _history(ad_id) -> dict:
        timeline = [
            (entry, json.dumps(entry.data, indent=2, sort_keys=True, ensure_ascii=False))
            for entry in audit_entries_for_ad(ad_id=ad_id)
        ]
        verdicts = Verdict.objects.filter(ad_id=ad_id).prefetch_related("findings").order_by("version")
        return {"timeline": timeline, "verdicts": verdicts}


class DecisionForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        max_length=2000,
        help_text="Recorded with the decision in the audit log and shown on the ad.",
    )


class HeldAdAdmin(AdAdmin):
    """The review queue, oldest first."""

    list_display = ("headline", "retailer", "category", "country", "finding_codes", "submitted_at", "reviewed_at")
    list_filter = ("retailer", CategoryFilter, CountryFilter, FindingCodeFilter, ("submitted_at", DateRangeFilter))
    ordering = ("submitted_at", "id")
    actions = ("approve_held", "reject_held")
    change_form_template = "admin/ads_write/heldad/change_form.html"

    def get_queryset(self, request):
        engine_verdicts = Verdict.objects.filter(source=Verdict.Source.ENGINE).prefetch_related("findings")
        return (
            super()
            .get_queryset(request)
            .filter(status=AdStatus.NEEDS_REVIEW)
            .prefetch_related(Prefetch("verdicts", queryset=engine_verdicts))
        )

    @admin.display(description="findings")
    def finding_codes(self, ad):
        return ", ".join(sorted({f.code for v in ad.verdicts.all() for f in v.findings.all()})) or "—"

    def has_decide_permission(self, request):
        return request.user.has_perm(DECIDE_PERMISSION)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_decide": self.has_decide_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

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
        form = DecisionForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            self._apply(request, ads, status, form.cleaned_data["reason"])
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

    def _apply(self, request, ads, status, reason):
        reviewer = request.user.get_username()
        decided, failed = [], []
        for ad in ads:
            try:
                ad_decide(ad_id=ad.id, status=status, reviewer=reviewer, reason=reason)
                decided.append(ad)
            except DecisionError as exc:
                failed.append(f"“{ad.headline}”: {exc}")
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
    search_fields = ("ad__id",)
    search_help_text = "An ad id."
    ordering = ("-id",)
    inlines = (FindingInline,)

    def get_search_results(self, request, queryset, search_term):
        return _by_ad_id(queryset, search_term, "ad_id")


class FindingCodeInput(InputFilter):
    title = "code"
    parameter_name = "code"

    def filter(self, queryset, value):
        return queryset.filter(code=value)


class FindingAdmin(ReadOnlyAdmin):
    list_display = ("code", "severity", "category", "field", "message", "verdict")
    list_select_related = ("verdict",)
    list_filter = (FindingCodeInput,)
    search_fields = ("verdict__ad__id",)
    search_help_text = "An ad id."
    ordering = ("-id",)

    def get_search_results(self, request, queryset, search_term):
        return _by_ad_id(queryset, search_term, "verdict__ad_id")


def _by_ad_id(queryset, search_term, lookup):
    """Search by an ad's id (an index lookup); anything else that is not an id finds nothing."""
    if not search_term.strip():
        return queryset, False
    ad_id = parse_uuid(search_term)
    return (queryset.filter(**{lookup: ad_id}) if ad_id else queryset.none()), False


admin.site.register(Ad, AdAdmin)
admin.site.register(HeldAd, HeldAdAdmin)
admin.site.register(Verdict, VerdictAdmin)
admin.site.register(Finding, FindingAdmin)
