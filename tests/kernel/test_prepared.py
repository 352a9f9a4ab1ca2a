"""A one-row read by a named prepared statement (adplatform/kernel/prepared.py), on the real
PostgreSQL: prepared once per session, the same row the cursor reads, and Django's cursor
wherever the statement would skip what the cursor does."""

import pytest
from django.db import ProgrammingError, connection, transaction
from django.test.utils import CaptureQueriesContext

from adplatform.kernel import prepared
from adplatform.kernel.prepared import UUID_OID, PreparedRow
from tests.factories import RetailerFactory

pytestmark = pytest.mark.django_db(transaction=True)

SQL = "SELECT name, velocity_limit FROM kernel_retailer WHERE id = $1"


def decoded(values):
    name, limit = values
    return name.decode(), int.from_bytes(limit, "big", signed=True) if limit is not None else None


def unprepared():
    return "read by the cursor"


@pytest.fixture(autouse=True)
def _no_pooled_database(monkeypatch):
    monkeypatch.setattr(prepared, "_pooled", set())


def statements_named(name: bytes) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s", [name.decode()])
        return cursor.fetchone()[0]


def test_a_row_is_read_by_a_statement_prepared_once_on_the_session():
    retailers = [RetailerFactory(name=f"Shop {n}", velocity_limit=n) for n in range(3)]
    read = PreparedRow(sql=SQL, types=[UUID_OID], decode=decoded)

    rows = [read.fetch(connection, [r.id.bytes], otherwise=unprepared) for r in retailers * 2]

    assert rows == [(f"Shop {n}", n) for n in range(3)] * 2
    assert statements_named(read.name) == 1


def test_no_row_is_none_and_null_columns_come_as_none():
    retailer = RetailerFactory(name="Limitless", velocity_limit=None)
    read = PreparedRow(sql=SQL, types=[UUID_OID], decode=decoded)

    assert read.fetch(connection, [retailer.id.bytes], otherwise=unprepared) == ("Limitless", None)
    assert read.fetch(connection, [bytes(16)], otherwise=unprepared) is None


def test_a_new_session_gets_the_statement_prepared_again():
    retailer = RetailerFactory(name="Nimbus")
    read = PreparedRow(sql=SQL, types=[UUID_OID], decode=decoded)
    read.fetch(connection, [retailer.id.bytes], otherwise=unprepared)
    connection.close()

    assert read.fetch(connection, [retailer.id.bytes], otherwise=unprepared)[0] == "Nimbus"
    assert statements_named(read.name) == 1


def test_the_same_sql_prepared_on_the_session_already_is_used_as_it_is():
    retailer = RetailerFactory(name="Nimbus")
    first, second = (PreparedRow(sql=SQL, types=[UUID_OID], decode=decoded) for _ in range(2))
    first.fetch(connection, [retailer.id.bytes], otherwise=unprepared)

    assert second.name == first.name
    assert second.fetch(connection, [retailer.id.bytes], otherwise=unprepared)[0] == "Nimbus"
    assert prepared._database(connection) not in prepared._pooled


def test_inside_a_transaction_with_a_query_log_or_an_execute_wrapper_the_cursor_reads():
    retailer = RetailerFactory(name="Nimbus")
    read = PreparedRow(sql=SQL, types=[UUID_OID], decode=decoded)
    params = [retailer.id.bytes]

    with transaction.atomic():  # an error would abort the transaction
        assert read.fetch(connection, params, otherwise=unprepared) == "read by the cursor"
    with CaptureQueriesContext(connection):  # the log sees every statement
        assert read.fetch(connection, params, otherwise=unprepared) == "read by the cursor"
    with connection.execute_wrapper(lambda execute, *args: execute(*args)):
        assert read.fetch(connection, params, otherwise=unprepared) == "read by the cursor"
    assert statements_named(read.name) == 0


def test_a_statement_that_fails_raises_djangos_error_and_reads_nothing_else():
    read = PreparedRow(sql="SELECT no_such_column FROM kernel_retailer WHERE id = $1", types=[UUID_OID], decode=decoded)

    with pytest.raises(ProgrammingError, match="no_such_column"):
        read.fetch(connection, [bytes(16)], otherwise=unprepared)
    assert prepared._database(connection) not in prepared._pooled
    with connection.cursor() as cursor:  # the session is fine
        cursor.execute("SELECT 1")
