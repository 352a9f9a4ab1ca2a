"""A read that is its own connection health check.

With CONN_HEALTH_CHECKS (settings: a persistent connection may have died with a database
restart since the last request), Django sends `SELECT 1` before a request's first statement:
a round trip as dear as a read by primary key, on the API's hottest read. `checked_by_use`
lets the read go first instead; when it fails on a connection the request has not checked yet
and the connection is dead, it closes it and reads once more on a new one — what the health
check would have done, paid only when the connection is found dead."""

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
