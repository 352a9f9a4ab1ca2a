"""Staff view of webhook endpoints and deliveries (failed ones filterable) and of the daily
report deliveries. Read-only: every change goes through the services, which audit it."""

from django.contrib import admin

from adplatform.admin_tools import DateRangeFilter, ReadOnlyAdmin

from .models import ReportDelivery, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ["url", "retailer", "events", "created_at"]
    list_select_related = ["retailer"]
    list_filter = ["retailer", ("created_at", DateRangeFilter)]
    search_fields = ["url", "retailer__name"]
    exclude = ["secret"]  # the signing secret is the retailer's, not staff's to read


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "event_type",
        "ad_id",
        "version",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event_type"]
    list_select_related = ["endpoint__retailer"]
    search_fields = ["=ad_id", "=event_id", "endpoint__url", "endpoint__retailer__name"]
    date_hierarchy = "created_at"


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["date", "retailer", "status", "rejected_count", "review_count", "attempts", "sent_at", "last_error"]
    list_filter = ["status", "date"]
    list_select_related = ["retailer"]
    search_fields = ["retailer__name"]
