"""Statements over a Django connection: a read that is its own connection health check, a
statement Django's cursor cannot run run as it runs its own, and the rows of a read in
PostgreSQL's binary format.

With CONN_HEALTH_CHECKS (settings: a persistent connection may have died with a database
restart since the last request), Django sends `SELECT 1` before a request's first statement:
a round trip as dear as a read by primary key, on the API's hottest read. `checked_by_use`
lets the read go first instead; when it fails on a connection the request has not checked yet
and the connection is dead, it closes it and reads once more on a new one — what the health
check would have done, paid only when the connection is found dead."""

import contextlib

import psycopg
from django.db import DatabaseError


def checked_by_use(connection, read):
    """`read()` (idempotent: it is run again on a new connection) on `connection`, a Django
    connection wrapper, as the request's health check of it."""
    unchecked = (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block  # a transaction's statements are never run again
    )
    if not unchecked:
        return read()
    connection.health_check_done = True
    try:
        return read()
    except DatabaseError:
        if connection.is_usable():
            raise  # the statement failed, not the connection
        connection.close()
        return read()


def statement_run(connection, sql: str, params, executor):
    """`executor(sql, params, many, context)` run as Django runs a statement, for one its
    cursor.execute cannot run (a COPY, a read in the binary format): refused in a broken
    transaction, through the connection's execute wrappers and, when queries are logged
    (DEBUG, tests' CaptureQueriesContext), into its query log; so it is counted, timed and seen
    like any statement. Returns what `executor` returns; it gets Django's cursor wrapper as
    context["cursor"]."""

    def checked(sql, params, many, context):
        connection.validate_no_broken_transaction()  # as Django's own execute checks
        return executor(sql, params, many, context)

    with connection.cursor() as cursor:
        with cursor.debug_sql(sql, params) if connection.queries_logged else contextlib.nullcontext():
            return cursor._execute_with_wrappers(sql, params, False, executor=checked)


def rows_binary(connection, sql: str, params: list) -> list[tuple]:
    """The rows of a read statement (`%s` placeholders) on `connection`, a Django connection
    wrapper. On PostgreSQL they come in the binary format, which Django's client-side cursor
    cannot ask for: a bytea column arrives as it is stored, not as hex text that the server
    writes and psycopg parses back, and a UUID is made in C instead of parsed from its text (a
    50-document list page: ~200 of ~400 µs of CPU, server and client, less). Run as any
    statement (statement_run). Elsewhere (SQLite), Django's cursor."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def execute(sql, params, many, context):
        # psycopg's own cursor (the connection's factory makes Django's client-side one); an
        # unnamed statement (prepare=False) leaves nothing on the server session, which a
        # pooler in transaction mode may hand to another client next.
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as binary:
            binary.execute(sql, params, binary=True, prepare=False)
            return binary.fetchall()

    return statement_run(connection, sql, params, execute)
