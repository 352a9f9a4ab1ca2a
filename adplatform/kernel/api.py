"""Key API (/api/v1/keys): a retailer lists, makes, labels, rotates and revokes its own API
keys. Every operation needs the `keys` scope (scopes.py); thin views over the services."""

from contextlib import contextmanager
from datetime import timedelta

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from adplatform.problems import problem
from ads_read.api import AdCursorPagination
from ads_write.idempotency import idempotent

from . import selectors, services
from .serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeyRevokeSerializer,
    ApiKeyRotateSerializer,
    ApiKeySerializer,
    ApiKeyUpdateSerializer,
)

EXAMPLE_KEY = {
    "id": "019abc30-2222-7def-8abc-0123456789ab",
    "prefix": "3f9c0a7b21de",
    "label": "shop backend",
    "scopes": ["read", "submit"],
    "status": "active",
    "created_at": "2026-11-26T09:00:00Z",
    "expires_at": None,
    "last_used_at": "2026-11-26T10:41:00Z",
    "revoked_at": None,
    "replaced_by": None,
    "current": False,
}
EXAMPLE_SECRET = "adp_3f9c0a7b21de_vQ1p0k7yXb8Hn2m4Rk9sT3uV6wY1zA5cD7eF9gH2jK4"
PATH = "/api/v1/keys"
ITEM_PATH = "/api/v1/keys/019abc30-2222-7def-8abc-0123456789ab"


_PROBLEM_OF = {
    services.ApiKeyNotFound: "not-found",
    services.ApiKeyScopeEscalation: "insufficient-scope",
    services.LastKeyManager: "last-key-manager",
    services.ApiKeyInactive: "api-key-inactive",
}


@contextmanager
def _as_problem():
    """A key service's refusal as its problem type (anything else it refuses: a bad request)."""
    try:
        yield
    except services.ApiKeyError as exc:
        raise problem(_PROBLEM_OF.get(type(exc), "bad-request"), detail=str(exc)) from exc


def _created(request, issued: services.IssuedKey) -> Response:
    issued.key.secret = issued.raw_key
    data = ApiKeyCreatedSerializer(issued.key, context={"request": request}).data
    response = Response(data, status=status.HTTP_201_CREATED)
    # An Idempotency-Key replay answers the same but without the secret: stored for 24 hours
    # in the clear, it would undo storing only the key's hash.
    response.replay_data = {**data, "secret": None}
    return response


class ApiKeyListApi(APIView):
    pagination_class = AdCursorPagination  # newest first, by the time-ordered id

    @extend_schema(
        operation_id="keys_list",
        responses=ApiKeySerializer(many=True),
        summary="List your API keys, newest first (revoked and expired ones too)",
        description="Each key with its label, scopes, status, expiry and last use; never its secret.",
        examples=[OpenApiExample("A page", value=EXAMPLE_KEY, response_only=True)],
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.api_key_list(retailer_id=request.caller.retailer.id), request, view=self
        )
        return paginator.get_paginated_response(ApiKeySerializer(page, many=True, context={"request": request}).data)


class ApiKeyCreateApi(APIView):
    @extend_schema(
        operation_id="keys_create",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer},
        summary="Make an API key",
        description="The answer carries the key (`secret`); it is shown only this once. A key can only grant "
        "scopes it has itself.",
        examples=[
            OpenApiExample(
                "A submitting key", value={"label": "shop backend", "scopes": ["read", "submit"]}, request_only=True
            ),
            OpenApiExample(
                "Made", value={**EXAMPLE_KEY, "secret": EXAMPLE_SECRET}, response_only=True, status_codes=[201]
            ),
        ],
    )
    @idempotent
    def post(self, request):
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with _as_problem():
            issued = services.api_key_issue(
                retailer=request.caller.retailer,
                label=data.validated_data["label"],
                scopes=data.validated_data["scopes"],
                expires_at=data.validated_data["expires_at"],
                granted_scopes=request.caller.scopes,
                actor=request.caller.actor,
            )
        return _created(request, issued)


def _key_or_404(request, key_id):
    key = selectors.api_key_get(retailer_id=request.caller.retailer.id, key_id=key_id)
    if key is None:
        raise problem("not-found", detail="No API key with this id for your account.")
    return key


class ApiKeyDetailApi(APIView):
    @extend_schema(
        operation_id="keys_retrieve",
        responses=ApiKeySerializer,
        summary="Read an API key",
        description="The key's label, scopes, status, expiry and last use; never its secret.",
        examples=[OpenApiExample("A key", value=EXAMPLE_KEY, response_only=True)],
    )
    def get(self, request, key_id):
        return Response(ApiKeySerializer(_key_or_404(request, key_id), context={"request": request}).data)


class ApiKeyUpdateApi(APIView):
    @extend_schema(
        operation_id="keys_partial_update",
        request=ApiKeyUpdateSerializer,
        responses=ApiKeySerializer,
        summary="Change an API key's label",
        description="Only the label changes: scopes and expiry are set when a key is made or rotated.",
        examples=[
            OpenApiExample("A new label", value={"label": "shop backend"}, request_only=True),
            OpenApiExample("The key", value=EXAMPLE_KEY, response_only=True),
        ],
    )
    def patch(self, request, key_id):
        data = ApiKeyUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with _as_problem():
            key = services.api_key_update(
                retailer=request.caller.retailer,
                key_id=key_id,
                label=data.validated_data["label"],
                actor=request.caller.actor,
            )
        return Response(ApiKeySerializer(key, context={"request": request}).data)


class ApiKeyRevokeApi(APIView):
    @extend_schema(
        operation_id="keys_destroy",
        parameters=[ApiKeyRevokeSerializer],
        responses={204: None},
        summary="Revoke an API key",
        description="From the next request on, every web process refuses the key (401). Revoking a revoked key "
        "changes nothing. The last active key with the `keys` scope is kept (`last-key-manager`) unless "
        "`allow_lockout=true`: without one, only staff can make you a key.",
    )
    def delete(self, request, key_id):
        options = ApiKeyRevokeSerializer(data=request.query_params)
        options.is_valid(raise_exception=True)
        with _as_problem():
            services.api_key_revoke(
                retailer=request.caller.retailer,
                key_id=key_id,
                allow_lockout=options.validated_data["allow_lockout"],
                actor=request.caller.actor,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyRotateApi(APIView):
    @extend_schema(
        operation_id="keys_rotate",
        request=ApiKeyRotateSerializer,
        responses={201: ApiKeyCreatedSerializer},
        summary="Rotate an API key: a new key now, the old one expires after a grace period",
        description="The new key has the old one's label and scopes and is shown only in this answer; the old "
        "key keeps working for `grace_seconds` (0 to 7 days), then it is refused. See docs/keys.md.",
        examples=[
            OpenApiExample("A day's grace", value={"grace_seconds": 86400}, request_only=True),
            OpenApiExample(
                "The new key",
                value={**EXAMPLE_KEY, "id": "019abc40-3333-7def-8abc-0123456789ab", "secret": EXAMPLE_SECRET},
                response_only=True,
                status_codes=[201],
            ),
        ],
    )
    @idempotent
    def post(self, request, key_id):
        data = ApiKeyRotateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with _as_problem():
            issued = services.api_key_rotate(
                retailer=request.caller.retailer,
                key_id=key_id,
                grace=timedelta(seconds=data.validated_data["grace_seconds"]),
                expires_at=data.validated_data["expires_at"],
                granted_scopes=request.caller.scopes,
                actor=request.caller.actor,
            )
        return _created(request, issued)
