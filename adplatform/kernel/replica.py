"""Is the read replica fit to read from? Down, or replaying more than READ_REPLICA_MAX_LAG
seconds behind, it is skipped for the primary (the router, adplatform/routers.py), counted in
`adplatform_replica_skipped_reads_total`, and /readyz shows the platform degraded, not failed.

The answer is cached per process for READ_REPLICA_CHECK_INTERVAL seconds, so a read costs a
dictionary lookup, and a replica that is down costs one failed connect per interval, not one
per read.

The lag is measured on the replica itself: 0 while it has replayed everything it received,
else the age of the last transaction it replayed (an idle primary sends nothing, so a
replay timestamp alone would make an idle, caught-up replica look hours behind).
"""

import functools
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connections

from .metrics import REPLICA_SKIPPED

REPLICA = "replica"
LAG_SQL = (
    "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)

_lock = threading.Lock()
_state = {"checked_at": float("-inf"), "problem": None}


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def replica_problem() -> str | None:
    """None if the replica may be read, else why not ("down: …", "lagging: …")."""
    now = time.monotonic()
    with _lock:
        if now - _state["checked_at"] < settings.READ_REPLICA_CHECK_INTERVAL:
            return _state["problem"]
        _state["checked_at"] = now  # one thread checks; the others use the last answer
    problem = _check()
    with _lock:
        _state["problem"] = problem
    return problem


def _check() -> str | None:
    connection = connections[REPLICA]
    try:
        with connection.cursor() as cursor:
            cursor.execute(LAG_SQL)
            lag = float(cursor.fetchone()[0])
    except Exception as exc:
        connection.close()
        return f"down: {type(exc).__name__}: {str(exc).strip()[:200]}"
    if lag > settings.READ_REPLICA_MAX_LAG:
        return f"lagging: {lag:.1f} s behind (READ_REPLICA_MAX_LAG {settings.READ_REPLICA_MAX_LAG} s)"
    return None


def replica_usable() -> bool:
    problem = replica_problem()
    if problem is not None:
        REPLICA_SKIPPED.labels(problem.split(":", 1)[0]).inc()
    return problem is None


def replica_failed(exc: Exception) -> None:
    """A read on the replica failed between two checks (it went down meanwhile): count it
    skipped from now until the next check finds it back."""
    with _lock:
        _state["problem"] = f"down: {type(exc).__name__}"
        _state["checked_at"] = time.monotonic()
    REPLICA_SKIPPED.labels("down").inc()


def primary_if_replica_fails(read):
    """Run `read` (a read-side view method) again once, on the primary, when the replica
    failed it: the replica went down since it was last checked, and a reader gets the
    primary's answer rather than a 500. An error of the primary is raised as it is: it is
    no replica failure, and running the read again would only repeat it."""

    @functools.wraps(read)
    def reading(*args, **kwargs):
        if not replica_configured():
            return read(*args, **kwargs)
        replica = connections[REPLICA]
        # Django flags a connection whose statement or connect failed (`errors_occurred`);
        # a flag raised during this read says the replica failed it. A closed connection's
        # flag is stale (its next connect clears it anyway): clear it first. One still up
        # on an open connection is not this read's: only a change from clean counts.
        if replica.connection is None:
            replica.errors_occurred = False
        clean = not replica.errors_occurred
        try:
            return read(*args, **kwargs)
        except DatabaseError as exc:
            if not (clean and replica.errors_occurred):
                raise
            replica_failed(exc)
            return read(*args, **kwargs)

    return reading
