"""Bench-only URLconf: the application's URLs plus two stand-ins.

`POST /bench/ceiling/ads` does the request-path work of `POST /api/v1/ads` up to the point of
accepting (DRF parsing, API-key auth, body-size check, basic validation, the 202 body) but
publishes and stores nothing. Single-ad intake divided by this ceiling is the share of the
request budget the intake itself (event, publish, pending marker) leaves to the API.

`GET /bench/ceiling/read` is the read API's trivial endpoint: a DRF view with everything every
read pays (API-key auth, the `read` scope, the rate limit, content negotiation, JSON), which
reads nothing and answers a constant document. `bench read` gives each endpoint as a ratio to it."""

from django.conf import settings
from django.urls import path
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from adplatform.kernel.ids import new_id
from adplatform.kernel.models import Scope
from adplatform.kernel.scopes import OPERATION_SCOPES
from adplatform.parsers import request_json
from adplatform.urls import handler400, handler403, handler404, handler500
from adplatform.urls import urlpatterns as app_urlpatterns
from ads_write.api import basic_validation_problem
from ads_write.models import AdStatus
from ads_write.serializers import AcceptedSerializer
from ads_write.services.intake import Accepted
from ads_write.validation.basic import validate_basic


class AdSubmitCeilingApi(APIView):
    def post(self, request):
        result = validate_basic(request_json(request, max_bytes=settings.API_MAX_BODY_BYTES))
        if not result.ok:
            raise basic_validation_problem(result.errors)
        accepted = Accepted(id=new_id(), status=AdStatus.PENDING, submitted_at=timezone.now())
        return Response(AcceptedSerializer(accepted).data, status=status.HTTP_202_ACCEPTED)


class ReadCeilingApi(APIView):
    def get(self, request):
        return Response({"id": "00000000-0000-0000-0000-000000000000", "status": "approved"})


urlpatterns = [
    path("bench/ceiling/ads", AdSubmitCeilingApi.as_view(), name="bench-ceiling"),
    path("bench/ceiling/read", ReadCeilingApi.as_view(), name="bench-ceiling-read"),
    *app_urlpatterns,
]
# The scope check is request-path work too: the stand-ins need what the API's operations need.
OPERATION_SCOPES[("bench-ceiling", "POST")] = Scope.SUBMIT
OPERATION_SCOPES[("bench-ceiling-read", "GET")] = Scope.READ

__all__ = ["urlpatterns", "handler400", "handler403", "handler404", "handler500"]
