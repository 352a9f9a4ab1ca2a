from django.urls import path

from . import api


class ApiKeyCollectionApi(api.ApiKeyListApi, api.ApiKeyCreateApi):
    """/api/v1/keys: GET lists, POST makes a key."""


class ApiKeyItemApi(api.ApiKeyDetailApi, api.ApiKeyUpdateApi, api.ApiKeyRevokeApi):
    """/api/v1/keys/{id}: GET reads, PATCH labels, DELETE revokes."""


urlpatterns = [
    path("keys", ApiKeyCollectionApi.as_view(), name="keys"),
    path("keys/<uuid:key_id>", ApiKeyItemApi.as_view(), name="key-detail"),
    path("keys/<uuid:key_id>/rotate", api.ApiKeyRotateApi.as_view(), name="key-rotate"),
]
