from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ads_read.api import AdDetailApi, AdFailedListApi, AdListApi, StatsListApi
from ads_write.api import AdBatchSubmitApi, AdSubmitApi
from ads_write.api_appeals import AdAppealCreateApi
from ads_write.api_commands import (
    AdBatchPauseApi,
    AdBatchWithdrawApi,
    AdChangeApi,
    AdPauseApi,
    AdResumeApi,
    AdWithdrawApi,
)

from . import admin_site, health, problems


class AdCollectionApi(AdListApi, AdSubmitApi):
    """/api/v1/ads: GET lists (query side), POST submits (command side)."""


class AdResourceApi(AdDetailApi, AdChangeApi):
    """/api/v1/ads/{id}: GET reads (query side), PATCH changes (command side)."""


class ApiDocsView(SpectacularSwaggerSplitView):
    """The docs page. The split view serves its start-up script as a file: no inline script for
    the CSP to allow. OPTIONS answers as on every view, 200 with `Allow`, without a body: the
    page's HTML renderer has no way to render the methods."""

    def options(self, request, *args, **kwargs):
        return HttpResponse(headers={"Allow": ", ".join(self.allowed_methods)})


urlpatterns = [
    path("api/v1/ads", AdCollectionApi.as_view(), name="ads"),
    path("api/v1/ads/failed", AdFailedListApi.as_view(), name="ads-failed"),
    path("api/v1/ads/batch", AdBatchSubmitApi.as_view(), name="ads-batch"),
    path("api/v1/ads/batch/pause", AdBatchPauseApi.as_view(), name="ads-batch-pause"),
    path("api/v1/ads/batch/withdraw", AdBatchWithdrawApi.as_view(), name="ads-batch-withdraw"),
    path("api/v1/ads/<str:ad_id>", AdResourceApi.as_view(), name="ad-detail"),
    path("api/v1/ads/<str:ad_id>/pause", AdPauseApi.as_view(), name="ad-pause"),
    path("api/v1/ads/<str:ad_id>/resume", AdResumeApi.as_view(), name="ad-resume"),
    path("api/v1/ads/<str:ad_id>/withdraw", AdWithdrawApi.as_view(), name="ad-withdraw"),
    path("api/v1/ads/<str:ad_id>/appeals", AdAppealCreateApi.as_view(), name="ad-appeals"),
    path("api/v1/stats", StatsListApi.as_view(), name="stats"),
    path("api/v1/", include("notifications.urls")),
    path("api/v1/", include("adplatform.kernel.urls")),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[], authentication_classes=[]), name="schema"),
    path(
        "api/docs/",
        ApiDocsView.as_view(url_name="schema", permission_classes=[], authentication_classes=[]),
        name="docs",
    ),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]

handler400 = problems.handler400
handler403 = admin_site.handler403  # staff pages in the admin's chrome, the API's problems elsewhere
handler404 = admin_site.handler404
handler500 = problems.handler500
