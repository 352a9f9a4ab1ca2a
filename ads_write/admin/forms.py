"""The decision forms — the reviewer's page's and the queue actions' — and what the
reviewer's page of held ads and of appeals share: its POST, and the next item. The services
check the same rules again."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.validators import MinLengthValidator
from django.http import HttpResponseRedirect

from adplatform.admin_tools import parse_uuid

from .. import review
from ..models import AdStatus
from ..services.decisions import DecisionError
from ..services.reviews import StaleDecision, review_check


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


class NextItem:
    """The "next" link of a queue (held ads, appeals): `_open_next(request, after=…)` of the
    model admin opens the item after the one in ?after=."""

    def next_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied  # the next item's id is not for staff who may not see the queue
        return self._open_next(request, after=parse_uuid(request.GET.get("after", "")))


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
