"""Retailers, API keys and dead letters in the admin, read-only: retailers and keys are made
by the audited `create_retailer` command, and a key's hash is never shown. A retailer's
report settings change through an audited action (notifications.admin_actions); staff with
“Can revoke an API key” revoke keys, and with “Can deactivate or reactivate a retailer”
(de)activate retailers, through audited actions too (admin_actions)."""

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone

from adplatform.admin_tools import DateRangeFilter, ReadOnlyAdmin
from notifications.admin_actions import change_report_settings

from .admin_actions import deactivate_retailers, reactivate_retailers, replay_dead_letters, revoke_api_keys
from .models import ApiKey, DeadLetter, Retailer


@admin.register(Retailer)
class RetailerAdmin(ReadOnlyAdmin):
    list_display = ("name", "email", "is_active", "timezone", "velocity_limit", "rate_limit_per_minute", "created_at")
    readonly_fields = ("id", "created_at")
    list_filter = ("is_active", "timezone")
    search_fields = ("name",)
    ordering = ("name",)
    actions = [change_report_settings, deactivate_retailers, reactivate_retailers]

    def has_deactivate_permission(self, request):
        return request.user.has_perm("kernel.deactivate_retailer")


class KeyStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("usable", "Usable"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        if self.value() == "usable":
            return queryset.filter(unexpired, revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ("retailer", "prefix", "label", "scopes", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_select_related = ("retailer",)
    fields = (
        "id",
        "retailer",
        "prefix",
        "label",
        "scopes",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "replaced_by",
    )  # never key_hash
    readonly_fields = fields
    list_filter = (KeyStateFilter, "retailer", ("created_at", DateRangeFilter))
    search_fields = ("prefix",)
    ordering = ("-created_at",)
    actions = [revoke_api_keys]

    def has_revoke_permission(self, request):
        return request.user.has_perm("kernel.revoke_apikey")

    def get_search_results(self, request, queryset, search_term):
        # Staff handed a leaked key paste all of it: find it by its prefix.
        prefix = ApiKey.split(search_term.strip())
        return super().get_search_results(request, queryset, prefix or search_term)


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "task_name", "task_id", "error", "replayed_at")
    list_filter = (("replayed_at", admin.EmptyFieldListFilter), "task_name", ("created_at", DateRangeFilter))
    ordering = ("-id",)
    actions = [replay_dead_letters]
