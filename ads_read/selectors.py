"""Query side: read-only access to the read tables (through the replica when configured)."""

import functools
import uuid
from datetime import UTC
from typing import NamedTuple

import django_filters
from django import forms
from django.db import DatabaseError, connections, router
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from adplatform.kernel.connections import checked_by_use, rows_binary
from adplatform.kernel.prepared import UUID_OID, PreparedRow
from adplatform.kernel.replica import replica_failed
from ads_write.models import Ad, AdStatus

from .freshness import told_version
from .models import AdView, RetailerDailyStats
from .pending import PendingAd, pending_get
from .serializers import DOCUMENT_COLUMNS

STATUSES = tuple(AdStatus.values)
FAILED_STATUSES = (AdStatus.REJECTED,)
# The days /stats covers: by default, and at most.
STATS_DEFAULT_DAYS = 30
STATS_MAX_DAYS = 366


class UtcDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date-time, turned to UTC: Python accepts offsets up to ±24 h, PostgreSQL
    only ±16 h, so a far-out offset would fail in the database instead of here."""

    def to_python(self, value):
        value = super().to_python(value)
        try:
            return value.astimezone(UTC) if value is not None else None
        except OverflowError as exc:  # year 1 or 9999 moved past the calendar's end
            raise forms.ValidationError("The date-time is out of range.", code="invalid") from exc


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class StrictBooleanField(forms.NullBooleanField):
    """`true` or `false` (also `1`, `0`, any case). Django's NullBooleanField reads every other
    value as "not given", so `paused=maybe` listed every ad instead of being a 400."""

    VALUES = {"true": True, "1": True, "false": False, "0": False}
    widget = forms.TextInput  # the raw value (the boolean widgets read an unknown one as None)

    def to_python(self, value):
        if value in (None, ""):
            return None
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise forms.ValidationError("Must be true or false.", code="invalid") from None

    def validate(self, value):
        pass  # None is "not given"; every other value was checked by to_python


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class AdFilter(django_filters.FilterSet):
    # distinct=False: each row has one status, and SELECT DISTINCT kept PostgreSQL off the
    # (retailer_id, status, -id) index (24 ms instead of 0.06 ms a page at 100k rows).
    status = django_filters.MultipleChoiceFilter(choices=[(s, s) for s in STATUSES], distinct=False)
    category = django_filters.CharFilter()
    country = django_filters.CharFilter()
    external_ref = django_filters.CharFilter()
    finding_code = django_filters.CharFilter(method="filter_finding_code", label="Finding code")
    paused = StrictBooleanFilter(label="Paused by the retailer")
    submitted_after = UtcDateTimeFilter(field_name="submitted_at", lookup_expr="gte")
    submitted_before = UtcDateTimeFilter(field_name="submitted_at", lookup_expr="lt")

    class Meta:
        model = AdView
        fields = ["status", "category", "country", "external_ref"]

    def filter_finding_code(self, queryset, name, value):
        return queryset.filter(finding_codes__contains=f" {value.strip()} ")


# What a list page reads of each ad: its stored document (and the id, for the cursor).
LISTED_FIELDS = ("id", "document")


def ad_list(*, retailer_id, filters: dict | None = None) -> QuerySet:
    """The retailer's ads, filtered, as dicts of LISTED_FIELDS. Raises django_filters'
    ValidationError on bad filters."""
    queryset = AdView.objects.filter(retailer_id=retailer_id).values(*LISTED_FIELDS)
    filters = filters or {}
    if not filters_given(filters):
        return queryset  # nothing to filter on: no FilterSet and its form (~0.4 ms a request)
    filterset = AdFilter(data=filters, queryset=queryset)
    if not filterset.is_valid():
        raise filterset_errors(filterset)
    return filterset.qs


def filters_given(params) -> bool:
    return any(name in params for name in AdFilter.base_filters)


def statuses_only(params) -> list | None:
    """The statuses of a list filtered by status alone, all of them valid: a page ad_page
    reads by its own statement. None for any other filter (AdFilter validates and applies it)."""
    if [name for name in AdFilter.base_filters if name in params] != ["status"]:
        return None
    statuses = params.getlist("status")
    return statuses if all(status in STATUSES for status in statuses) else None


def ad_page(*, retailer_id, statuses=None, before=None, offset: int = 0, limit: int) -> list[dict]:
    """A page of an unfiltered list: up to `limit` of the retailer's ads (of `statuses` only,
    if given), newest first, older than the ad `before` (an id), skipping `offset`, as dicts
    of LISTED_FIELDS. The ORM cost more than the page's SELECT itself (cloning, compiling
    and iterating the queryset: ~1.1 ms of ~1.7 ms of CPU a 50-ad page), so this statement
    is written out, as the read by id is; filtered lists go through AdFilter (ad_list)."""
    using = router.db_for_read(AdView) or "default"
    connection = connections[using]
    table, quote = connection.ops.quote_name(AdView._meta.db_table), connection.ops.quote_name
    id_field = AdView._meta.pk
    where = [f"{table}.{quote('retailer_id')} = %s"]
    params = [id_field.get_db_prep_value(uuid.UUID(str(retailer_id)), connection)]
    if statuses:
        where.append(f"{table}.{quote('status')} IN ({', '.join(['%s'] * len(statuses))})")
        params += list(statuses)
    if before is not None:
        where.append(f"{table}.{quote('id')} < %s")
        params.append(id_field.get_db_prep_value(uuid.UUID(str(before)), connection))
    columns = ", ".join(f"{table}.{quote(name)}" for name in LISTED_FIELDS)
    sql = f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)} ORDER BY {table}.{quote('id')} DESC LIMIT %s"
    params.append(limit)
    if offset:
        sql += " OFFSET %s"
        params.append(offset)

    # The page is the request's health check of its connection, as the read by id is (no
    # `SELECT 1` round trip before it).
    rows = checked_by_use(connection, lambda: rows_binary(connection, sql, params))
    # SQLite gives the id as hex text: the cursor position is a UUID either way.
    return [
        {"id": ad_id if isinstance(ad_id, uuid.UUID) else uuid.UUID(ad_id), "document": document}
        for ad_id, document in rows
    ]


def ad_rows_by_id(*, ad_ids: list, using: str) -> dict:
    """{id: dict of DOCUMENT_COLUMNS} of these read rows, from database `using`: for listed
    rows projected before documents were stored (their document is rendered from these). As
    dicts, not AdView instances (50 instances cost ~0.5 ms)."""
    rows = AdView.objects.using(using).filter(id__in=ad_ids).values(*DOCUMENT_COLUMNS)
    return {row["id"]: row for row in rows}


def reached_at():
    """When an ad reached its current state: the staff decision, else the end of detailed
    validation. The read table's report index is on this very expression."""
    return Coalesce("decided_at", "reviewed_at")


REPORT_FIELDS = (
    "id",
    "status",
    "external_ref",
    "submitted_at",
    "reached_at",
    "headline",
    "landing_url",
    "findings",
    "appeal",
)


def ad_report_rejected(*, retailer_id, start, end, withdrawn: bool = False) -> QuerySet:
    """The retailer's ads that ended rejected in [start, end), oldest first, as tuples of
    REPORT_FIELDS; with `withdrawn`, those of them withdrawn since (a withdrawal does not undo
    the day's rejection). Either is one ordered range of the report index (an OR of the two
    would be a bitmap scan, sorted before the first row streams)."""
    rejected = Q(status="withdrawn", withdrawn_from="rejected") if withdrawn else Q(status="rejected")
    return (
        AdView.objects.annotate(reached_at=reached_at())
        .filter(rejected, retailer_id=retailer_id, reached_at__gte=start, reached_at__lt=end)
        .order_by("reached_at", "id")
        .values_list(*REPORT_FIELDS)
    )


def ad_report_open_reviews(*, retailer_id, start, end) -> QuerySet:
    """The retailer's ads held for review in [start, end) and not decided yet, oldest
    first, as tuples of REPORT_FIELDS."""
    return (
        AdView.objects.annotate(reached_at=reached_at())
        .filter(retailer_id=retailer_id, status="needs_review", reached_at__gte=start, reached_at__lt=end)
        .order_by("reached_at", "id")
        .values_list(*REPORT_FIELDS)
    )


def ad_get(*, retailer_id, ad_id) -> AdView | PendingAd | None:
    """One of the retailer's ads: its read row, or — accepted but not yet projected — a
    pending stand-in (from its marker, else from the write side's row); None if the
    retailer has no such ad (another's ad is None too)."""
    return _ad_by_id(retailer_id=retailer_id, ad_id=ad_id, read=ad_view_by_id)


class StoredAd(NamedTuple):
    id: uuid.UUID
    version: int
    document: bytes | None
    using: str


def ad_document_get(*, retailer_id, ad_id) -> StoredAd | AdView | PendingAd | None:
    """As ad_get, for the API's read by id: the stored document (the answer's bytes, with the
    version) when the read row has one; else the row itself (projected before documents were
    stored: the caller renders it) or the pending stand-in. Reads only the row's version and document."""
    found = _ad_by_id(retailer_id=retailer_id, ad_id=ad_id, read=_stored_by_id)
    if not isinstance(found, StoredAd):
        return found
    if found.document is not None:
        return found
    return ad_view_by_id(using=found.using, ad_id=found.id, retailer_id=retailer_id)


def _ad_by_id(*, retailer_id, ad_id, read):
    """What `read(using=, ad_id=, retailer_id=)` finds of the ad (anything with a `version`),
    from the replica when it may be read and is recent enough, else from the primary; else a
    pending stand-in; else None."""
    try:
        ad_id = uuid.UUID(str(ad_id))
    except ValueError:
        return None
    using = router.db_for_read(AdView) or "default"
    try:
        row = read(using=using, ad_id=ad_id, retailer_id=retailer_id)
    except DatabaseError as exc:
        if using == "default":
            raise
        # The replica went down since it was last checked: the primary answers.
        replica_failed(exc)
        using, row = "default", read(using="default", ad_id=ad_id, retailer_id=retailer_id)
    if using != "default" and (row is None or row.version < told_version(ad_id=ad_id)):
        # The replica lags the primary: read-your-writes, and never a state older than one
        # the retailer was told about (freshness.py), fall back to the primary.
        row = read(using="default", ad_id=ad_id, retailer_id=retailer_id)
    if row is not None:
        return row
    marker = pending_get(ad_id=ad_id)
    if marker and marker.get("retailer_id") == str(retailer_id):
        return PendingAd({"id": ad_id, "status": "pending", **marker})
    # No marker (marking is best effort: Redis was down as a cqrs ad was accepted), yet the
    # write side has the ad: still pending to the reader, never a bare 404.
    stored = Ad.objects.filter(id=ad_id, retailer_id=retailer_id).values("submitted_at", "external_ref").first()
    if stored:
        return PendingAd(
            {"id": ad_id, "status": "pending", **stored, "submitted_at": stored["submitted_at"].isoformat()}
        )
    return None


def _stored_by_id(*, using: str, ad_id: uuid.UUID, retailer_id) -> StoredAd | None:
    """The version and stored document of one of the retailer's ads, from database `using`:
    by primary key alone, in a statement written once (no ORM compilation per read). The
    retailer is compared here, not in the statement: with `retailer_id` in it PostgreSQL
    weighed the four indexes that begin with it on every read (planning ~0.09 ms against
    ~0.02 ms by the key alone), to find the one row the key finds anyway."""
    connection = connections[using]
    statement = _stored_by_id_statement(connection)
    # No `SELECT 1` health check first (it cost as much as this read): the read is the check.
    row = checked_by_use(connection, lambda: statement.row(connection, ad_id))
    # Another retailer's ad is no ad of this one's. Both sides as the database gives a UUID
    # column back (a UUID on PostgreSQL, its hex on SQLite).
    if row is None or row[2] != statement.prep(retailer_id, connection):
        return None
    version, document, _ = row
    return StoredAd(id=ad_id, version=version, document=bytes(document) if document is not None else None, using=using)


class _StoredStatement:
    """The read by id of a stored document on one connection wrapper (one per thread and
    alias): its SQL; on PostgreSQL, the named prepared statement that runs it
    (kernel/prepared.py); else, or where that may not be used, a cursor kept for it. Making a
    cursor per read (Django's wrapper over a new psycopg cursor) cost about a fifth of the
    selector's CPU (tight loop); the kept one is Django's wrapper too (execute wrappers, error
    translation), over a client-side cursor. Remade when the wrapper reconnects."""

    def __init__(self, connection):
        quote = connection.ops.quote_name
        self.sql = (
            f"SELECT {quote('version')}, {quote('document')}, {quote('retailer_id')} "
            f"FROM {quote(AdView._meta.db_table)} WHERE {quote('id')} = %s"
        )
        self.prep = AdView._meta.pk.get_db_prep_value  # retailer_id is a UUID column too
        self.prepared = PreparedRow(sql=self.sql.replace("%s", "$1"), types=[UUID_OID], decode=_stored_columns)
        self._kept = (None, None)  # (the DB-API connection it was made on, the cursor)

    def row(self, connection, ad_id: uuid.UUID):
        """(version, document, retailer_id) of the ad, or None: by the named statement where
        it may be used (kernel/prepared.py), else by the kept cursor."""
        return self.prepared.fetch(connection, [ad_id.bytes], otherwise=lambda: self._cursor_row(connection, ad_id))

    def _cursor_row(self, connection, ad_id: uuid.UUID):
        params = [self.prep(ad_id, connection)]
        if connection.queries_logged:  # DEBUG, CaptureQueriesContext: logged as any statement
            with connection.cursor() as cursor:
                cursor.execute(self.sql, params)
                return cursor.fetchone()
        cursor = self._kept_cursor(connection)
        cursor.execute(self.sql, params)
        return cursor.fetchone()

    def _kept_cursor(self, connection):
        connection.ensure_connection()
        made_on, cursor = self._kept
        if made_on is None or made_on is not connection.connection:
            cursor = connection.cursor()
            self._kept = (connection.connection, cursor)
        return cursor


def _stored_columns(values: list[bytes | None]) -> tuple:
    """version (int4), document (bytea) and retailer_id (uuid) in the binary format, as the
    kept cursor gives them."""
    version, document, retailer_id = values
    return int.from_bytes(version, "big", signed=True), document, uuid.UUID(bytes=retailer_id)


@functools.lru_cache(maxsize=256)
def _stored_by_id_statement(connection) -> _StoredStatement:
    return _StoredStatement(connection)


def ad_view_by_id(*, using: str, ad_id: uuid.UUID, retailer_id) -> AdView | None:
    """The read row of one of the retailer's ads, from database `using`.

    The API's hottest read. The ORM compiled its 30-column SELECT anew on every call, which
    cost four times what running it did (~0.9 ms against ~0.2 ms of CPU a read); so the
    statement is compiled once per connection and reused with new parameters, and its rows
    go through the same converters and `from_db` as the ORM's (bench/README.md, read)."""
    connection = connections[using]
    statement = _ad_view_by_id_statement(connection)
    params = [
        statement.id_field.get_db_prep_value(ad_id, connection),
        statement.retailer_field.get_db_prep_value(retailer_id, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for position, converters, expression in statement.converters:
        for converter in converters:
            values[position] = converter(values[position], expression, connection)
    return AdView.from_db(using, statement.attnames, values)


class _Statement:
    def __init__(self, connection):
        # Two filter() calls, so the parameters come in this order: id, then retailer_id.
        query = AdView.objects.filter(id=uuid.UUID(int=0)).filter(retailer_id=uuid.UUID(int=0)).query
        compiler = query.get_compiler(connection=connection)
        self.sql, params = compiler.as_sql()
        if len(params) != 2:
            raise AssertionError(f"expected the by-id statement to take 2 parameters, not {len(params)}")
        columns = [column for column, _, _ in compiler.select]
        self.attnames = [column.target.attname for column in columns]
        self.converters = [
            (position, converters, expression)
            for position, (converters, expression) in compiler.get_converters(columns).items()
        ]
        self.id_field = AdView._meta.pk
        self.retailer_field = AdView._meta.get_field("retailer_id")


@functools.lru_cache(maxsize=256)
def _ad_view_by_id_statement(connection) -> _Statement:
    # Keyed by the connection wrapper (one per thread and alias): the converters are bound to it.
    return _Statement(connection)


def filterset_errors(filterset):
    from rest_framework.exceptions import ValidationError

    return ValidationError(filterset.errors)


def stats_daily(*, retailer_id, date_from, date_to) -> QuerySet:
    """The retailer's ad counts per status for each day (UTC) from `date_from` to `date_to`
    that has any ads, as dicts {day, pending, approved, rejected, needs_review, total}."""
    per_status = {status: Sum("count", filter=Q(status=status), default=0) for status in STATUSES}
    return (
        RetailerDailyStats.objects.filter(retailer_id=retailer_id, day__gte=date_from, day__lte=date_to)
        .values("day")
        .annotate(**per_status, total=Sum("count"))
        .filter(total__gt=0)
    )
