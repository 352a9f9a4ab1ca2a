"""Admin actions for notification settings, kept apart from admin.py (as the kernel's are).
Wire with `actions = [change_report_settings]` on the Retailer ModelAdmin."""

import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from adplatform.admin_tools import action_form_page, requires_permission

from .serializers import MAX_REPORT_CONTACTS, RetailerSettingsSerializer
from .services.retailer_settings import retailer_settings_update


class ReportSettingsForm(forms.Form):
    report_contacts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5, "cols": 60}),
        required=False,
        help_text=f"One e-mail address a line, at most {MAX_REPORT_CONTACTS}. None: no daily report.",
    )
    timezone = forms.CharField(
        max_length=64, help_text="An IANA time zone name, e.g. Europe/Berlin. The report covers its days."
    )

    def clean(self):
        # The API's own rules (addresses, limit, duplicates, zone names): one place decides.
        data = super().clean()
        contacts = [part for part in re.split(r"[\s,;]+", data.get("report_contacts", "")) if part]
        checked = RetailerSettingsSerializer(data={"report_contacts": contacts, "timezone": data.get("timezone", "")})
        if not checked.is_valid():
            for field, errors in checked.errors.items():
                if isinstance(errors, dict):  # per address: {index: [messages]}
                    errors = [f"{contacts[int(index)]}: {' '.join(map(str, each))}" for index, each in errors.items()]
                self.add_error(field if field in self.fields else None, [str(error) for error in errors])
            return data
        return {**data, **checked.validated_data}


@requires_permission("kernel.change_retailer")
@admin.action(description="Change report contacts and time zone…")
def change_report_settings(modeladmin, request, queryset):
    # Checked here, not with permissions=["change"]: the Retailer admin is read-only, so its
    # has_change_permission() is False for everybody.
    if not request.user.has_perm("kernel.change_retailer"):
        raise PermissionDenied("Changing report settings needs the “Can change retailer” permission.")
    retailers = list(queryset[:2])
    if len(retailers) != 1:
        modeladmin.message_user(
            request, "Select one retailer: report contacts are each retailer's own.", messages.ERROR
        )
        return None
    [retailer] = retailers
    form = ReportSettingsForm(
        request.POST if "apply" in request.POST else None,
        initial={"report_contacts": "\n".join(retailer.report_contacts), "timezone": retailer.timezone},
    )
    if form.is_valid():
        retailer = retailer_settings_update(
            retailer=retailer,
            actor=f"staff:{request.user.get_username()}",
            report_contacts=form.cleaned_data["report_contacts"],
            timezone_name=form.cleaned_data["timezone"],
        )
        contacts = ", ".join(retailer.report_contacts) or "nobody (no daily report)"
        modeladmin.message_user(
            request, f"{retailer.name}: reports go to {contacts}, days in {retailer.timezone}.", messages.SUCCESS
        )
        return None
    return action_form_page(
        modeladmin,
        request,
        template="admin/notifications/report_settings.html",
        form=form,
        selected=[retailer.pk],
        title=f"Report settings of {retailer.name}",
        retailer=retailer,
    )
