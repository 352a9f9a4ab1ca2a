"""Query API: thin views over the selectors."""

from drf_spectacular.utils import extend_schema
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from adplatform.problems import Problem

from . import selectors
from .serializers import AdViewSerializer


class AdCursorPagination(CursorPagination):
    """Cursor pagination over time-ordered ids: stable while new ads arrive."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_paginated_response(self, data):
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {"results": schema, "next": {"type": "string", "format": "uri", "nullable": True}},
        }


def not_found(request) -> Problem:
    return Problem(status_code=404, slug="not-found", title="Not found.", detail="No ad with this id for your account.")


class _AdListBase(APIView):
    pagination_class = AdCursorPagination

    def paginated(self, request, queryset):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(AdViewSerializer(page, many=True).data)


class AdListApi(_AdListBase):
    @extend_schema(
        operation_id="ads_list",
        parameters=[selectors.AdFilter],
        responses=AdViewSerializer(many=True),
        summary="List your ads, newest first",
    )
    def get(self, request):
        queryset = selectors.ad_list(retailer_id=request.user.id, filters=request.query_params)
        return self.paginated(request, queryset)


class AdFailedListApi(_AdListBase):
    @extend_schema(operation_id="ads_failed_list", responses=AdViewSerializer(many=True), summary="List your rejected ads")
    def get(self, request):
        return self.paginated(request, selectors.ad_failed_list(retailer_id=request.user.id))


class AdDetailApi(APIView):
    @extend_schema(operation_id="ads_retrieve", responses=AdViewSerializer, summary="Read one ad: its status and findings")
    def get(self, request, ad_id):
        ad = selectors.ad_get(retailer_id=request.user.id, ad_id=ad_id)
        if ad is None:
            raise not_found(request)
        return Response(AdViewSerializer(ad).data)
