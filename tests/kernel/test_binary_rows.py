"""kernel/connections.py's rows_binary against the real PostgreSQL: the rows Django's cursor
gives, bytea and UUIDs included, seen like any statement (execute wrappers, the query log,
Django's errors), and nothing left prepared on the session for a pooler to hand on; and
statement_run, through which it and kernel/bulk.py's COPY go."""

import uuid

import pytest
from django.db import DatabaseError, ProgrammingError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from adplatform.kernel.bulk import COPY_MIN_ROWS, rows_insert
from adplatform.kernel.connections import rows_binary
from ads_write.models import OutboxMessage
from tests.kernel.test_bulk import COLUMNS as OUTBOX_COLUMNS
from tests.kernel.test_bulk import others as outbox_rows

pytestmark = pytest.mark.django_db

# Bytes a text round trip could mangle: NUL, a backslash, bytes that are not UTF-8.
ODD_BYTES = b"\x00\\x41\xff\xfe{}\n" + bytes(range(256))
STATEMENT = "SELECT %s::uuid, %s::bytea, %s::text, %s::int"


def test_the_rows_are_those_of_djangos_cursor():
    ad_id = uuid.uuid4()
    params = [ad_id, ODD_BYTES, "ünï", 7]
    with connection.cursor() as cursor:
        cursor.execute(STATEMENT, params)
        expected = cursor.fetchall()

    rows = rows_binary(connection, STATEMENT, params)

    assert rows == expected == [(ad_id, ODD_BYTES, "ünï", 7)]
    assert isinstance(rows[0][0], uuid.UUID) and isinstance(rows[0][1], bytes)


def test_the_read_is_seen_like_any_statement():
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(wrapper):
        rows_binary(connection, "SELECT %s::int", [1])

    assert seen == ["SELECT %s::int"]
    assert [q["sql"] for q in queries] == ["SELECT %s::int"]


def test_a_failing_statement_raises_djangos_error_and_the_connection_reads_on():
    with pytest.raises(ProgrammingError), transaction.atomic():  # the test's transaction lives on
        rows_binary(connection, "SELECT no_such_column FROM ads_read_adview", [])
    assert rows_binary(connection, "SELECT %s::int", [2]) == [(2,)]


def test_nothing_stays_prepared_on_the_session():
    """Even where psycopg is set to prepare what a connection runs often (the database's
    OPTIONS may set prepare_threshold; here 0, at once): a pooler in transaction mode
    (PgBouncer before 1.21) would send the EXECUTE to a session that never saw the PREPARE."""
    connection.ensure_connection()
    kept, connection.connection.prepare_threshold = connection.connection.prepare_threshold, 0
    try:
        for n in range(3):
            assert rows_binary(connection, "SELECT %s::int + 1", [n]) == [(n + 1,)]
    finally:
        connection.connection.prepare_threshold = kept
    assert rows_binary(connection, "SELECT count(*) FROM pg_prepared_statements", []) == [(0,)]


@pytest.mark.parametrize(
    "statement",
    [
        lambda: rows_binary(connection, "SELECT %s::int", [1]),
        lambda: rows_insert(model=OutboxMessage, columns=OUTBOX_COLUMNS, rows=outbox_rows(COPY_MIN_ROWS)),
    ],
    ids=["binary read", "COPY"],
)
def test_a_statement_in_a_broken_transaction_is_refused_as_django_refuses_it(statement):
    """statement_run, which both the binary read and kernel/bulk.py's COPY go through."""
    with transaction.atomic():
        with pytest.raises(DatabaseError), transaction.atomic(savepoint=False):
            with connection.cursor() as cursor:
                cursor.execute("SELECT no_such_column FROM ads_read_adview")
        with pytest.raises(TransactionManagementError):
            statement()
