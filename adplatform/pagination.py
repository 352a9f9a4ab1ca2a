"""Cursor pagination for every list of the API, strict about its parameters.

DRF's CursorPagination trusts what it decodes: a cursor that decodes but carries a position
of the wrong type (`p=0000` where the list is ordered by a UUID or a date) reached the
database and failed there (a 500), a bad cursor was a 404, and a `page_size` it could not
read (`-1`, `0`, `abc`, `1.5`, `1e3`) fell back to the default in silence. Here each of them
is a 400 problem naming the parameter. Pages carry `next` (the URL of the following page)
and `next_cursor` (its `cursor` alone, for clients that build their own requests)."""

import base64
import binascii
import re
from urllib import parse

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

_DIGITS = re.compile(r"[0-9]{1,9}")
# What encode_cursor makes: padded standard base64 of `o=…&r=…&p=…` (at least one of them).
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_CURSOR_KEYS = frozenset({"o", "r", "p"})


def refuse_empty_parameters(params, names) -> None:
    """`status=` and the like: a filter sent empty is a 400 naming it. Left to the filter, an
    empty value is skipped (django-filter, DRF's serializers), which lists everything while
    the client meant to narrow the list."""
    empty = [name for name in names if any(not value.strip() for value in params.getlist(name))]
    if empty:
        raise ValidationError(dict.fromkeys(empty, ["Must not be empty; leave the parameter out to not filter."]))


class StrictCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    cursor_query_description = "The page cursor: `next_cursor` of the previous page (or the `cursor` of its `next`)."

    def paginate_queryset(self, queryset, request, view=None):
        # The field the cursor's position is compared with, to check a position before it
        # reaches the database.
        self.position_field = queryset.model._meta.get_field(self.ordering.lstrip("-"))
        return super().paginate_queryset(queryset, request, view)

    def paginate_rows(self, fetch, request, *, model) -> list:
        """As paginate_queryset, for a page the view fetches itself with
        `fetch(before=position, offset=, limit=)` (rows of `model`, by `ordering` descending)
        instead of a queryset. Only forward cursors are issued and accepted here, so this is
        DRF's forward half of paginate_queryset; its get_next_link makes the links."""
        self.position_field = model._meta.get_field(self.ordering.lstrip("-"))
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = (self.ordering,)  # as DRF's get_ordering gives it
        self.cursor = self.decode_cursor(request)
        offset, _, position = self.cursor or (0, False, None)
        results = fetch(before=position, offset=offset, limit=self.page_size + 1)
        self.page = results[: self.page_size]
        self.has_next = len(results) > len(self.page)
        self.next_position = self._get_position_from_instance(results[-1], self.ordering) if self.has_next else None
        self.has_previous = position is not None or offset > 0
        self.previous_position = position if self.has_previous else None
        return self.page

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = int(raw) if _DIGITS.fullmatch(raw) else 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"Must be a whole number from 1 to {self.max_page_size}."]}
            )
        return size

    def decode_cursor(self, request):
        raw = request.query_params.get(self.cursor_query_param)
        if raw is not None and not _issued_shape(raw):
            # DRF's base64 decoding drops what is not base64, so `cursor=` or `cursor=!!!`
            # decoded to nothing: the first page, as if no cursor had been sent.
            raise self._invalid()
        try:
            cursor = super().decode_cursor(request)
        except NotFound as exc:  # DRF answers a bad cursor 404; it is a bad parameter
            raise self._invalid() from exc
        if cursor is None:
            return None
        # This API only hands out forward cursors (no `previous` link): a reversed one was
        # never issued by it.
        if cursor.reverse:
            raise self._invalid()
        if cursor.position is not None:
            try:
                self.position_field.run_validators(self.position_field.to_python(cursor.position))
            except DjangoValidationError as exc:
                raise self._invalid() from exc
        return cursor

    def _invalid(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: [str(self.invalid_cursor_message)]})

    def page_links(self) -> dict:
        """`next` and `next_cursor`, the cursor taken from the link (built once: DRF encodes
        the position and rebuilds the URL's query each time)."""
        link = self.get_next_link()
        cursor = None if link is None else parse.parse_qs(parse.urlsplit(link).query)[self.cursor_query_param][0]
        return {"next": link, "next_cursor": cursor}

    def get_paginated_response(self, data):
        return Response({"results": data, **self.page_links()})

    def get_schema_operation_parameters(self, view):
        cursor, page_size = super().get_schema_operation_parameters(view)
        page_size["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        page_size["description"] = f"Items per page (default {self.page_size}, at most {self.max_page_size})."
        return [cursor, page_size]

    def get_paginated_response_schema(self, schema):
        return {"type": "object", "required": ["results", "next", "next_cursor"], "properties": page_properties(schema)}


def _issued_shape(raw: str) -> bool:
    """Whether `raw` has the shape of a cursor this API issues (not yet whether its values fit)."""
    if not _BASE64.fullmatch(raw):
        return False
    try:
        tokens = parse.parse_qs(base64.b64decode(raw, validate=True).decode("ascii"), keep_blank_values=True)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return bool(tokens) and tokens.keys() <= _CURSOR_KEYS


def page_properties(results_schema) -> dict:
    """The properties of a page, for the schema: `results`, `next` and `next_cursor`."""
    return {
        "results": results_schema,
        "next": {
            "type": "string",
            "format": "uri",
            "nullable": True,
            "description": "The URL of the following page; null on the last page.",
            "example": "http://127.0.0.1:8000/api/v1/ads?cursor=cD0wMTlhYmMxMg%3D%3D",
        },
        "next_cursor": {
            "type": "string",
            "nullable": True,
            "description": "The following page's `cursor` parameter; null on the last page.",
            "example": "cD0wMTlhYmMxMg==",
        },
    }
