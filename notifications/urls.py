from django.urls import path

from . import api


class WebhookCollectionApi(api.WebhookListApi, api.WebhookCreateApi):
    """/api/v1/webhooks: GET lists, POST registers."""


class WebhookItemApi(api.WebhookDetailApi, api.WebhookDeleteApi):
    """/api/v1/webhooks/{id}: GET reads, DELETE removes."""


class RetailerSettingsApi(api.RetailerSettingsDetailApi, api.RetailerSettingsUpdateApi):
    """/api/v1/settings: GET reads, PATCH changes."""


urlpatterns = [
    path("webhooks", WebhookCollectionApi.as_view(), name="webhooks"),
    path("webhooks/<uuid:endpoint_id>", WebhookItemApi.as_view(), name="webhook-detail"),
    path("webhooks/<uuid:endpoint_id>/deliveries", api.WebhookDeliveryListApi.as_view(), name="webhook-deliveries"),
    path("reports/failed-ads.csv", api.ReportFailedAdsCsvApi.as_view(), name="report-failed-ads"),
    path("settings", RetailerSettingsApi.as_view(), name="settings"),
]
