"""HTTP manners DRF leaves out: `q=0` in Accept, an unknown `?format=`, and OPTIONS.

DRF's content negotiation ranks media types by specificity and ignores their weights, so
`Accept: application/json;q=0` ("anything but JSON") still got JSON. Here a type with q=0 is
not acceptable, and a request that accepts nothing the API renders is a 406 problem.

OPTIONS: DRF answers it through a metadata class, and without one (we describe the API in
its OpenAPI schema, not per view) it answered 405 while listing OPTIONS in `Allow`. Here it
answers 200 with `Allow` and the methods and schema URL in the body."""

from django.http import Http404
from rest_framework.exceptions import NotAcceptable, ValidationError
from rest_framework.metadata import BaseMetadata
from rest_framework.negotiation import DefaultContentNegotiation


def _weight(media_range: str) -> float:
    for parameter in media_range.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 1.0  # an unreadable weight counts as the default
    return 1.0


def _bare(media_range: str) -> str:
    return media_range.split(";", 1)[0].strip().lower()


class ContentNegotiation(DefaultContentNegotiation):
    def filter_renderers(self, renderers, format):
        """`?format=` (DRF's URL_FORMAT_OVERRIDE) that no renderer of the view has: a 400 naming
        the parameter, not DRF's 404 for a URL that exists."""
        try:
            return super().filter_renderers(renderers, format)
        except Http404:
            formats = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise ValidationError({"format": [f"Must be one of: {formats}; or leave it out."]}) from None

    def get_accept_list(self, request):
        return [media_range for media_range in super().get_accept_list(request) if _weight(media_range) > 0]

    def select_renderer(self, request, renderers, format_suffix=None):
        refused = {_bare(r) for r in super().get_accept_list(request) if _weight(r) <= 0}
        renderer, media_type = super().select_renderer(request, renderers, format_suffix)
        if _bare(renderer.media_type) in refused:
            raise NotAcceptable(available_renderers=[r for r in renderers if _bare(r.media_type) not in refused])
        return renderer, media_type


class AllowMetadata(BaseMetadata):
    """The body of an OPTIONS answer (its `Allow` header lists the same methods)."""

    def determine_metadata(self, request, view):
        return {"methods": view.allowed_methods, "schema": "/api/schema/"}
