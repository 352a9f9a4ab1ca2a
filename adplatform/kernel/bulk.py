"""Writing many rows at once without building model instances, for the pipeline's consumers.

On PostgreSQL the rows go through COPY … FROM STDIN: psycopg formats them in C, with no
statement to parse and no value escaped in Python. (`bulk_create` sends
`INSERT … SELECT FROM UNNEST(%s::type[], …)`, and with client-side binding psycopg escapes
every text value of those arrays in Python: a tenth of the batched drain's time, with the
model instances another tenth, measured in `bench pipeline`.) COPY cannot skip conflicts:
`rows_insert(ignore_conflicts=True)` falls back to `bulk_create` when one occurs, and
`rows_stage` copies into a temporary table for a statement that handles them (an upsert).

Elsewhere (SQLite, the embedded default), and for a few rows, they become model instances
and `bulk_create`.
"""

import itertools
import json

from django.db import IntegrityError, connection, models, transaction
from django.db.models import QuerySet

from .connections import statement_run

# Temporary tables are named apart, so that two calls in one transaction never meet.
_temporary_names = itertools.count()
# COPY pays from about this many rows on. Below, one INSERT costs less than COPY's own round
# trip plus its savepoint (or a temporary table's catalog work): the single-ad messages of
# the plain consumer kept their cost this way (bench pipeline's probe, single).
COPY_MIN_ROWS = 20


class JsonText(str):
    """A JSON field's value already encoded: COPY sends the text as it is (no second encoding
    of what the caller has encoded once, as the audit log does to hash it)."""


def rows_insert(
    *, model: type[models.Model], columns: list[str], rows: list[tuple], ignore_conflicts: bool = False
) -> bool:
    """Insert `rows` (tuples in the order of `columns`, the fields' attnames) into the
    model's table; JSON fields take Python values, or JsonText. With `ignore_conflicts`, rows that
    collide with a unique constraint are skipped, as `bulk_create(ignore_conflicts=True)`.
    Returns True when every row is known to be inserted, False when some may have been
    skipped (the caller then reads back what is stored)."""
    if not rows:
        return True
    if connection.vendor != "postgresql" or len(rows) < COPY_MIN_ROWS:
        _bulk_create(model=model, columns=columns, rows=rows, ignore_conflicts=ignore_conflicts)
        return not ignore_conflicts
    if not ignore_conflicts:
        _copy(model=model, table=model._meta.db_table, columns=columns, rows=rows)
        return True
    # Conflicts are rare (a redelivery racing its twin), so COPY straight in, under a
    # savepoint; on a conflict nothing of it stays, and the statement that skips them runs.
    # (Staging in a temporary table instead costs ~1 ms of catalog work on every call.)
    try:
        with transaction.atomic():
            _copy(model=model, table=model._meta.db_table, columns=columns, rows=rows)
    except IntegrityError:
        _bulk_create(model=model, columns=columns, rows=rows, ignore_conflicts=True)
        return False
    return True


def _bulk_create(*, model: type[models.Model], columns: list[str], rows: list[tuple], ignore_conflicts: bool) -> None:
    rows = [tuple(json.loads(v) if isinstance(v, JsonText) else v for v in row) for row in rows]
    model.objects.bulk_create(
        [model(**dict(zip(columns, row, strict=True))) for row in rows], ignore_conflicts=ignore_conflicts
    )


def rows_stage(*, model: type[models.Model], columns: list[str], rows: list[tuple]) -> str:
    """PostgreSQL only, inside a transaction: COPY `rows` (as for rows_insert) into a new
    temporary table with those columns of the model's table, dropped at commit, for a
    statement that moves them on (the read model's upsert). Returns the table's quoted
    name. Its catalog work (~1–2 ms) pays off only from COPY_MIN_ROWS rows on."""
    if not connection.in_atomic_block:
        raise RuntimeError("rows_stage must run inside a transaction: its table is dropped at commit")
    name = f"copy_{model._meta.db_table}_{next(_temporary_names)}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {connection.ops.quote_name(name)} ON COMMIT DROP AS "
            f"SELECT {_column_list(model, columns)} FROM {connection.ops.quote_name(model._meta.db_table)} WITH NO DATA"
        )
    _copy(model=model, table=name, columns=columns, rows=rows)
    return connection.ops.quote_name(name)


def _column_list(model: type[models.Model], columns: list[str]) -> str:
    return ", ".join(connection.ops.quote_name(model._meta.get_field(name).column) for name in columns)


def _copy(*, model: type[models.Model], table: str, columns: list[str], rows: list[tuple]) -> None:
    json_positions = [i for i, name in enumerate(columns) if isinstance(model._meta.get_field(name), models.JSONField)]
    if json_positions:
        rows = [_json_dumped(row, json_positions) for row in rows]
    sql = f"COPY {connection.ops.quote_name(table)} ({_column_list(model, columns)}) FROM STDIN"

    def copy_rows(sql, params, many, context):
        # Django's error wrapper, as around its own statements: a conflict is an IntegrityError.
        with connection.wrap_database_errors, context["cursor"].cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    # psycopg's copy() does not go through cursor.execute: run as Django runs a statement.
    statement_run(connection, sql, None, copy_rows)


def _json_dumped(row: tuple, positions: list[int]) -> tuple:
    # COPY's text format hands each value to the column's input function: JSON as text.
    values = list(row)
    for i in positions:
        if values[i] is not None and not isinstance(values[i], JsonText):
            values[i] = json.dumps(values[i])
    return tuple(values)


def chunked(items: list, size: int):
    """`items` in lists of at most `size`, in order (itertools.batched is Python 3.12's)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def delete_in_chunks(rows: QuerySet, *, chunk_size: int) -> int:
    """Delete the rows `chunk_size` at a time, each chunk a statement of its own (and, run
    outside a transaction, a commit of its own), so that a large purge never holds many
    locks or one long transaction. Returns how many it deleted."""
    deleted = 0
    while True:
        ids = list(rows.values_list("pk", flat=True)[:chunk_size])
        if not ids:
            return deleted
        deleted += rows.model.objects.filter(pk__in=ids).delete()[0]
