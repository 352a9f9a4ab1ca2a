"""Shared pieces of the Django admin for tables of millions of rows: a paginator that does
not count them, filters typed into a box instead of listing every value, and read-only
model admins (state changes go through audited services, never through admin forms)."""

import csv
import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connections, models
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.functional import cached_property


class LargeTablePaginator(Paginator):
    """Counts exactly up to COUNT_CAP rows and stops there. Past the cap, an unfiltered
    list on PostgreSQL shows the planner's row estimate (pg_class.reltuples, kept fresh
    by autovacuum); a filtered one shows "more than COUNT_CAP"."""

    COUNT_CAP = 10_000
    count_kind = "exact"  # exact | estimate | at_least

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        counted = queryset.order_by()[: self.COUNT_CAP + 1].count()
        if counted <= self.COUNT_CAP:
            return counted
        estimate = self._estimate(queryset)
        if estimate > self.COUNT_CAP:
            self.count_kind = "estimate"
            return estimate
        self.count_kind = "at_least"
        return self.COUNT_CAP

    @staticmethod
    def _estimate(queryset) -> int:
        connection = connections[queryset.db]
        if queryset.query.where or connection.vendor != "postgresql":
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [queryset.model._meta.db_table]
            )
            row = cursor.fetchone()
        return row[0] if row else 0

    @property
    def count_label(self) -> str:
        count = self.count
        return {"estimate": f"about {count:,}", "at_least": f"more than {count:,}"}.get(self.count_kind, f"{count:,}")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers too: every change goes through an audited service
    (an admin form would change rows unaudited). Its list stays fast on a big table: no
    full count, no facet counts. Subclasses name their relations in list_select_related."""

    paginator = LargeTablePaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50
    list_max_show_all = 200
    # The scheme Django 6 assumes for a URL typed without one; saying it now silences Django
    # 5's deprecation warning on every URL field these pages render.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        # An action needing a permission the user lacks is not offered (requires_permission).
        return {
            name: action
            for name, action in super().get_actions(request).items()
            if request.user.has_perms(getattr(action[0], "required_permissions", ()))
        }

    def changelist_view(self, request, extra_context=None):
        # An action of this admin that is not offered to the user, posted anyway, is refused
        # outright (Django would only say "no action selected").
        if request.method == "POST" and "action" in request.POST:
            name = request.POST["action"]
            known = {action_name for _, action_name, _ in self._get_base_actions()}
            if name in known and name not in self.get_actions(request):
                raise PermissionDenied
        return super().changelist_view(request, extra_context)


def requires_permission(*permissions: str):
    """Mark an admin action as needing these permissions ("app.codename"): ReadOnlyAdmin
    offers it only to users who have them all, and refuses a forged POST with a 403. The
    action should check them again itself (it may be wired on another ModelAdmin)."""

    def mark(action):
        action.required_permissions = permissions
        return action

    return mark


def action_form_page(modeladmin, request, *, template: str, title: str, form, selected: list, **context):
    """The intermediate page of an admin action that asks for input first (a template
    extending admin/action_form.html): posted back, it carries the selection, the action and
    `apply`, so the action sees the answer in request.POST."""
    return TemplateResponse(
        request,
        template,
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "opts": modeladmin.model._meta,
            "form": form,
            "selected": selected,
            "action": request.POST.get("action", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            **context,
        },
    )


def parse_uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        return None


class InputFilter(admin.SimpleListFilter):
    """A filter typed into a box, for columns with too many values to list. Subclasses set
    title and parameter_name and implement filter(queryset, value)."""

    template = "admin/filters/input.html"
    placeholder = ""

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def choices(self, changelist):
        yield {
            "name": self.parameter_name,
            "value": self.value() or "",
            "placeholder": self.placeholder,
            "keep": {k: v for k, v in changelist.params.items() if k != self.parameter_name},
            "clear_url": changelist.get_query_string(remove=[self.parameter_name]),
        }

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return self.filter(queryset, value) if value else queryset

    def filter(self, queryset, value):
        raise NotImplementedError


class DateRangeFilter(admin.FieldListFilter):
    """From / to dates (both inclusive, in the admin's time zone) on a date-time field."""

    template = "admin/filters/date_range.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.from_name, self.to_name = f"{field_path}__from", f"{field_path}__to"
        super().__init__(field, request, params, model, model_admin, field_path)

    def expected_parameters(self):
        return [self.from_name, self.to_name]

    def _date(self, name) -> date | None:
        values = self.used_parameters.get(name)
        if not values or not values[-1]:
            return None
        try:
            return date.fromisoformat(values[-1])
        except ValueError as exc:
            raise IncorrectLookupParameters(exc) from exc

    def queryset(self, request, queryset):
        start, end = self._date(self.from_name), self._date(self.to_name)
        if start:
            queryset = queryset.filter(**{f"{self.field_path}__gte": _start_of(start)})
        if end:
            queryset = queryset.filter(**{f"{self.field_path}__lt": _start_of(end + timedelta(days=1))})
        return queryset

    def choices(self, changelist):
        names = self.expected_parameters()
        yield {
            "from_name": self.from_name,
            "to_name": self.to_name,
            "from_value": (self.used_parameters.get(self.from_name) or [""])[-1],
            "to_value": (self.used_parameters.get(self.to_name) or [""])[-1],
            "keep": {k: v for k, v in changelist.params.items() if k not in names},
            "clear_url": changelist.get_query_string(remove=names),
        }


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class _Echo:
    """The file csv.writer writes to: hands each line back for streaming."""

    def write(self, line):
        return line


def csv_download(rows: Iterable[list], *, name: str) -> StreamingHttpResponse:
    """Rows (lists of cells, already csv_safe) as a streamed CSV attachment `name-<time>.csv`:
    nothing but the current row is held, whatever the number of rows."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.now():%Y%m%dT%H%M%SZ}.csv"'
    return response
