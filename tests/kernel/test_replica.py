"""primary_if_replica_fails retries a read on the primary only when the replica failed it.
(The replica's checks, lag and fallbacks on a real standby: tests/replica.)"""

import pytest
from django.db import OperationalError, ProgrammingError, connections, transaction

from adplatform.kernel import replica
from adplatform.kernel.replica import REPLICA, primary_if_replica_fails
from tests.conftest import free_port


@pytest.fixture
def dead_replica(db, monkeypatch):
    """A replica alias whose server is gone (nothing listens on its port). Its connection
    is made here, kept out of the settings (which are connections.settings): the test case
    refuses to connect an alias of the settings it was not given, not one it does not know."""
    config = {**connections.settings["default"], "HOST": "127.0.0.1", "PORT": free_port()}
    monkeypatch.setattr(replica, "replica_configured", lambda: True)
    monkeypatch.setattr(replica, "_state", {"checked_at": float("-inf"), "problem": None})
    wrapper = connections["default"].__class__(config, alias=REPLICA)
    setattr(connections._connections, REPLICA, wrapper)
    yield wrapper
    wrapper.close()
    delattr(connections._connections, REPLICA)


def reading_on(*aliases):
    """A read that runs on the next alias of `aliases` each time it is called (as the router
    sends a read to the primary once the replica is marked down), and records where."""
    calls = []

    @primary_if_replica_fails
    def read():
        alias = aliases[len(calls)]
        calls.append(alias)
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0]

    return read, calls


def test_a_read_the_replica_failed_runs_again_on_the_primary(dead_replica):
    read, calls = reading_on(REPLICA, "default")
    assert read() == 1
    assert calls == [REPLICA, "default"]
    assert replica._state["problem"].startswith("down: OperationalError")


def test_an_error_of_the_primary_is_raised_not_taken_for_a_replica_failure(dead_replica):
    # An earlier failure on the replica left its (closed) connection flagged: stale, not this read's.
    with pytest.raises(OperationalError), dead_replica.cursor():
        pass
    assert dead_replica.errors_occurred and dead_replica.connection is None
    calls = []

    @primary_if_replica_fails
    def read():
        calls.append("default")
        with transaction.atomic(), connections["default"].cursor() as cursor:
            cursor.execute("SELECT no_such_column FROM ads_read_adview")

    with pytest.raises(ProgrammingError):
        read()
    assert calls == ["default"]  # once: running it again would only repeat the error
    assert replica._state["problem"] is None  # and the replica is not marked down for it


def test_a_replica_that_fails_again_on_the_retry_is_raised(dead_replica):
    read, calls = reading_on(REPLICA, REPLICA)
    with pytest.raises(OperationalError):
        read()
    assert calls == [REPLICA, REPLICA]  # one retry, never a loop
