"""The compliance admin over the command side: every ad with its verdicts, findings and
audit timeline (read-only), and the review queue — search, filters, SLA, claims, CSV — whose
held ads Reviewers (`decide_ad`) decide on the reviewer's page or several at once, always
with a policy reason code and a written reason (through services/reviews.py and
`ad_decide`, so a decision is audited and projected like any other state change)."""

import functools
import json
import re
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.core.validators import MinLengthValidator
from django.db.models import Exists, OuterRef, Prefetch, Q, TextField
from django.db.models.functions import Cast
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from adplatform import admin_site
from adplatform.admin_tools import (
    DateRangeFilter,
    InputFilter,
    ReadOnlyAdmin,
    action_form_page,
    csv_download,
    parse_uuid,
    requires_permission,
)
from adplatform.csv_cells import csv_safe
from adplatform.kernel.models import Retailer
from audit.roles import DECIDE_PERMISSION, EXPORT_PERMISSION
from audit.selectors import audit_entries_for_ad

from . import review
from .admin_changes import changes_side_by_side
from .fields import admin_fieldsets
from .models import Ad, AdStatus, ApprovalProposal, Finding, HeldAd, ReviewClaim, Verdict
from .services.decisions import DecisionError
from .services.reviews import (
    ClaimError,
    StaleDecision,
    next_for_review,
    review_check,
    review_claim,
    review_decide,
    review_release,
)
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
        # Codes are upper case (CATEGORY.NAME): typed in any case, as in the search.
        return queryset.filter(Exists(Finding.objects.filter(verdict__ad=OuterRef("pk"), code=value.upper())))


# A search term that can only be a finding code (CATEGORY.NAME), or part of an ad id.
_CODE_LIKE = re.compile(r"^[A-Za-z]+\.[A-Za-z_]+$")
_ID_PART = re.compile(r"^[0-9a-fA-F-]{4,35}$")


def ad_search(queryset, search_term: str):
    """The compliance admin's search, case-insensitive: an ad id or part of one, part of an
    external ref, headline or landing URL, part of a retailer's name, or a finding code. Each
    branch is one index (primary key, trigram indexes on PostgreSQL, retailer, finding code)."""
    term = search_term.strip()
    if not term:
        return queryset
    ad_id = parse_uuid(term)
    if ad_id:
        return queryset.filter(id=ad_id)
    if _CODE_LIKE.match(term):
        # Only the code: OR-ed with a text match, no index could serve the query.
        return queryset.filter(Exists(Finding.objects.filter(verdict__ad=OuterRef("pk"), code=term.upper())))
    matches = Q(external_ref__icontains=term) | Q(headline__icontains=term) | Q(landing_url__icontains=term)
    # Few retailers: their ids first, then the (retailer, submitted_at) index.
    retailers = list(Retailer.objects.filter(name__icontains=term).values_list("id", flat=True)[:100])
    if retailers:
        matches |= Q(retailer_id__in=retailers)
    if _ID_PART.match(term):
        queryset = queryset.annotate(id_text=Cast("id", TextField()))
        matches |= Q(id_text__icontains=term)
    return queryset.filter(matches)


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
        extra_context = {**(extra_context or {}), "can_export": request.user.has_perm(EXPORT_PERMISSION)}
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


class DecisionForm(forms.Form):
    """The reason of a decision on several ads at once (the queue's actions): the rules of
    the reviewer's page, but for the findings, which an approval overrules and a rejection
    upholds, every one."""

    reason_code = forms.ChoiceField(label="Policy reason")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        max_length=2000,
        help_text="Recorded with the decision in the audit log and shown on the ad.",
    )

    def __init__(self, *args, status, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason_code"].choices = [("", "— choose the policy reason —"), *review.reason_choices(status)]
        self.fields["reason"].validators.append(MinLengthValidator(settings.REVIEW_REASON_MIN_LENGTH))
        self.fields["reason"].help_text += f" At least {settings.REVIEW_REASON_MIN_LENGTH} characters."


class ReviewForm(forms.Form):
    """The decision on the reviewer's page; the service checks the same rules again."""

    decision = forms.ChoiceField(
        choices=[(AdStatus.APPROVED, "Approve"), (AdStatus.REJECTED, "Reject")], widget=forms.RadioSelect
    )
    reason_code = forms.ChoiceField(
        choices=[
            ("", "— choose the policy reason —"),
            ("Approve because", review.reason_choices(AdStatus.APPROVED)),
            ("Reject because", review.reason_choices(AdStatus.REJECTED)),
        ]
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        max_length=2000,
        help_text="Recorded with the decision in the audit log and shown to the retailer.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)
    then_next = forms.BooleanField(required=False, label="Then open the next held ad")

    def __init__(self, *args, findings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.findings = list(findings)
        self.fields["reason"].validators.append(MinLengthValidator(settings.REVIEW_REASON_MIN_LENGTH))
        self.fields["reason"].widget.attrs["minlength"] = settings.REVIEW_REASON_MIN_LENGTH
        for finding in self.findings:
            self.fields[f"finding_{finding.id}"] = forms.ChoiceField(
                choices=[(d, d.capitalize()) for d in review.DISPOSITIONS],
                # Shown beside each finding, outside the form's element: tied to it by id.
                widget=forms.RadioSelect(attrs={"form": "review-form"}),
                label=finding.code,
            )

    def dispositions(self) -> dict:
        return {str(f.id): self.cleaned_data.get(f"finding_{f.id}") for f in self.findings}

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            review_check(
                status=data["decision"],
                reason_code=data["reason_code"],
                reason=data["reason"],
                dispositions=self.dispositions(),
                findings=self.findings,
            )
        except DecisionError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data


def sla_hours():
    return timedelta(hours=settings.REVIEW_SLA_HOURS)


def sla_markup(since) -> str:
    """How an item waiting since `since` stands against the SLA: overdue by …, due in …."""
    left = since + sla_hours() - timezone.now()
    if left.total_seconds() < 0:
        return format_html('<span class="sla sla-overdue">overdue by {}</span>', age_text(-left))
    return format_html('<span class="sla sla-due">due in {}</span>', age_text(left))


def decision_response(modeladmin, request, *, ad, page, decide, done, open_next, queue_url):
    """The POST of the reviewer's page (a held ad's or an appeal's): the form, then the
    service `decide`, then the next item or the queue. An invalid form, a refused decision
    or one that came second shows the page again with what the reviewer typed."""
    form = ReviewForm(request.POST, findings=review.current_findings(ad))
    if not form.is_valid():
        return page(form, 400)
    data = form.cleaned_data
    try:
        outcome = decide(
            status=data["decision"],
            reviewer=request.user.get_username(),
            reason_code=data["reason_code"],
            reason=data["reason"],
            dispositions=form.dispositions(),
            expected_version=data["version"],
        )
    except StaleDecision as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return page(form, 409)
    except DecisionError as exc:
        form.add_error(None, str(exc))
        return page(form, 400)
    if outcome.decided:
        modeladmin.message_user(request, done(data["decision"]), messages.SUCCESS)
    else:
        modeladmin.message_user(
            request,
            "Approval proposed: under four eyes a second, different reviewer must confirm it.",
            messages.WARNING,
        )
    return open_next() if data.get("then_next") else HttpResponseRedirect(queue_url)


class ChoiceFilter(admin.SimpleListFilter):
    """A filter of a few fixed options ({value: label}), each narrowing the list its way."""

    options: dict = {}

    def lookups(self, request, model_admin):
        return list(self.options.items())

    def queryset(self, request, queryset):
        return self.narrow(self.value(), queryset, request) if self.value() in self.options else queryset

    def narrow(self, value, queryset, request):
        raise NotImplementedError


class SlaFilter(ChoiceFilter):
    title = "SLA"
    parameter_name = "sla"
    options = {"overdue": "Overdue", "due_soon": "Due within 4 hours", "in_time": "Within the SLA"}
    since = "reviewed_at"  # when the item began to wait

    def narrow(self, value, queryset, request):
        deadline = timezone.now() - sla_hours()  # waiting since before this: overdue
        since = self.since
        if value == "overdue":
            return queryset.filter(**{f"{since}__lt": deadline})
        if value == "due_soon":
            return queryset.filter(**{f"{since}__gte": deadline, f"{since}__lt": deadline + timedelta(hours=4)})
        return queryset.filter(**{f"{since}__gte": deadline})


class ClaimFilter(ChoiceFilter):
    title = "being reviewed"
    parameter_name = "claim"
    options = {"free": "By nobody", "any": "By anyone", "mine": "By me", "others": "By someone else"}

    def narrow(self, value, queryset, request):
        active = ReviewClaim.objects.filter(ad=OuterRef("pk"), expires_at__gt=timezone.now())
        me = request.user.get_username()
        if value == "free":
            return queryset.exclude(Exists(active))
        if value == "any":  # what the index counts as "Being reviewed"
            return queryset.filter(Exists(active))
        mine = active.filter(reviewer=me)
        return queryset.filter(Exists(mine if value == "mine" else active.exclude(reviewer=me)))


def age_text(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    return f"{days} d {hours} h" if days else f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


class HeldAdAdmin(AdAdmin):
    """The review queue: the longest held (the most overdue) first."""

    list_display = ("headline", "retailer", "finding_list", "held_for", "claimed_by")
    list_select_related = ("retailer", "review_claim")
    list_filter = (
        SlaFilter,
        ClaimFilter,
        "retailer",
        CategoryFilter,
        CountryFilter,
        FindingCodeFilter,
        ("submitted_at", DateRangeFilter),
        ("reviewed_at", DateRangeFilter),
    )
    ordering = ("reviewed_at", "id")
    actions = ("approve_held", "reject_held", "claim_held", "release_held")
    change_form_template = "admin/ads_write/heldad/change_form.html"
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
    def finding_codes(self, ad):
        return ", ".join(sorted({f.code for v in ad.verdicts.all() for f in v.findings.all()})) or "—"

    @admin.display(description="findings")
    def finding_list(self, ad):
        codes = sorted({f.code for v in ad.verdicts.all() for f in v.findings.all()})
        return format_html_join(format_html("<br>"), "{}", ((code,) for code in codes)) if codes else "—"

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

    def next_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied  # the next held ad's id is not for staff who may not see the queue
        return self._open_next(request, after=parse_uuid(request.GET.get("after", "")))

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
        return _by_ad_id(queryset, search_term, "ad_id")


class FindingCodeInput(InputFilter):
    title = "code"
    parameter_name = "code"

    def filter(self, queryset, value):
        return queryset.filter(code=value.upper())


class FindingAdmin(ReadOnlyAdmin):
    list_display = ("code", "severity", "category", "field", "message", "verdict")
    list_select_related = ("verdict",)
    list_filter = ("severity", "category", FindingCodeInput)
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

admin_site.configure()

from . import admin_appeals  # noqa: E402, F401  (registers the appeals queue; it builds on the above)
