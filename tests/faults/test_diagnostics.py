"""What a failed wait shows of the platform: a scenario that times out must say where the
worker it waited for is stuck."""

import pytest

from .conftest import wait_for

pytestmark = pytest.mark.faults


def test_a_failed_wait_shows_where_each_live_worker_is(platform):
    platform.start_worker()

    with pytest.raises(AssertionError) as failed:
        wait_for(lambda: False, timeout=0.1, what="nothing", details=platform.logs)

    shown = str(failed.value)
    section = shown[shown.index("(its main process's threads, asked as the wait failed)") :]
    assert "MainThread" in section
    # Its stack, frame by frame, down to the event loop the idle worker waits in.
    assert 'File "' in section and "celery/worker" in section
    assert "LOCAL VARIABLES" not in section
    assert platform.workers[0].process.poll() is None  # asked, not stopped
