"""Retailers, API keys and dead letters in the admin, read-only: retailers and keys are made
by the audited `create_retailer` command, and a key's hash is never shown. A retailer's
report settings change through an audited action (notifications.admin_actions)."""

from django.contrib import admin

from adplatform.admin_tools import ReadOnlyAdmin
from notifications.admin_actions import change_report_settings

from .admin_actions import replay_dead_letters
from .models import ApiKey, DeadLetter, Retailer


@admin.register(Retailer)
class RetailerAdmin(ReadOnlyAdmin):
    list_display = ("name", "email", "is_active", "timezone", "velocity_limit", "rate_limit_per_minute", "created_at")
    readonly_fields = ("id", "created_at")
    search_fields = ("name",)
    ordering = ("name",)
    actions = [change_report_settings]


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ("retailer", "prefix", "label", "created_at", "revoked_at")
    list_select_related = ("retailer",)
    fields = ("id", "retailer", "prefix", "label", "created_at", "revoked_at")  # never key_hash
    readonly_fields = fields
    search_fields = ("prefix",)
    ordering = ("-created_at",)


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "task_name", "task_id", "error", "replayed_at")
    ordering = ("-id",)
    actions = [replay_dead_letters]
