"""A one-row read by a named prepared statement (PostgreSQL), for the API's hottest read.

Prepared once per server session, then only bound and run: PostgreSQL neither parses nor
plans it again, and libpq hands the row over in the binary format, past the Python that
Django's and psycopg's cursors run per statement. Measured in one process with
bench/read_cpu.py (2-core Xeon): the read by id cost 290 µs of CPU (this process and its
PostgreSQL backend) more than the trivial endpoint through Django's cursor, 120 µs so.

A prepared statement is session state, which PgBouncer in transaction mode does not keep
(README, *PgBouncer in transaction mode*): a run that finds the statement missing from the
session it landed on takes the database as pooled, and from then on this process reads it
without (`otherwise`); that read is also the answer to the run that failed. A statement's
name is a hash of its SQL, so a session shared through a pooler never runs another
version's statement under the name of this one.

The named statement is used only where Django's own cursor would add nothing: outside a
transaction (an error there would abort it), and with no execute wrapper installed and no
query log (DEBUG, tests' CaptureQueriesContext), which see every statement."""

import hashlib
import logging

from psycopg import errors, pq
from psycopg.postgres import types

logger = logging.getLogger(__name__)

_MISSING = "26000"  # invalid_sql_statement_name: not prepared on this session
_ALREADY = "42P05"  # duplicate_prepared_statement: this very SQL, prepared on it before
_pooled: set[tuple] = set()  # (host, port, database) whose sessions a pooler shares
UUID_OID = types["uuid"].oid


def _database(connection) -> tuple:
    settings = connection.settings_dict
    return settings.get("HOST"), settings.get("PORT"), settings.get("NAME")


class PreparedRow:
    """One row of `sql` (placeholders `$1`, `$2`...) on one Django connection wrapper (one per
    thread and alias), with parameters and columns in PostgreSQL's binary format: `types` are
    the parameters' type OIDs, and `decode(columns)` makes the row of the columns' bytes (None
    for NULL), as `otherwise` gives it."""

    def __init__(self, *, sql: str, types: list[int], decode):
        self.sql = sql.encode()
        self.name = b"adp_" + hashlib.sha256(self.sql).hexdigest()[:24].encode()
        self.types = types
        self.decode = decode
        self._prepared_on = None  # the DB-API connection it was prepared on

    def fetch(self, connection, params: list[bytes], *, otherwise):
        """The row (decoded), or None when there is none; where the named statement is not to
        be used (module docstring), `otherwise()`."""
        if (
            connection.vendor != "postgresql"
            or connection.in_atomic_block
            or connection.queries_logged
            or connection.execute_wrappers
            or _database(connection) in _pooled
        ):
            return otherwise()
        connection.ensure_connection()
        with connection.wrap_database_errors:
            pgconn = connection.connection.pgconn
            if self._prepared_on is not connection.connection:
                self._check(pgconn.prepare(self.name, self.sql, self.types), allowed=_ALREADY)
                self._prepared_on = connection.connection
            result = pgconn.exec_prepared(self.name, params, [pq.Format.BINARY] * len(params), pq.Format.BINARY)
            if result.error_field(pq.DiagnosticField.SQLSTATE) == _MISSING.encode():
                _pooled.add(_database(connection))
                logger.warning(
                    "Prepared statements do not last on database %s (a pooler in transaction mode?): "
                    "this process reads it without them from now on.",
                    connection.alias,
                )
                return otherwise()
            self._check(result)
        if result.ntuples == 0:
            return None
        return self.decode([result.get_value(0, column) for column in range(result.nfields)])

    def _check(self, result, *, allowed: str = "") -> None:
        if result.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
            return
        if allowed and result.error_field(pq.DiagnosticField.SQLSTATE) == allowed.encode():
            return
        raise errors.error_from_result(result, encoding="utf-8")
