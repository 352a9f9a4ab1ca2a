"""Two beats, one schedule: the beat holding the lease dispatches, the other stands by and
takes over when the first dies."""

import os
import signal

import pytest

from tests.conftest import celery_process, wait_for

pytestmark = pytest.mark.faults

SENDING = "Scheduler: Sending due task outbox-sweep"


class Beat:
    def __init__(self, platform, name: str):
        self.log_path = platform.root / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.process = celery_process(
            ["beat", "--schedule", str(platform.root / f"{name}-schedule"), "--loglevel", "INFO"],
            env=platform.env(BEAT_LEASE_TTL="3"),  # the outbox sweep runs every second here
            log=self.log,
        )

    def dispatches(self) -> int:
        return self.log_path.read_text(errors="replace").count(SENDING)

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def test_only_the_lease_holder_dispatches_and_a_standby_takes_over(platform):
    beats = [Beat(platform, "beat-a"), Beat(platform, "beat-b")]
    try:
        wait_for(
            lambda: any(beat.dispatches() >= 3 for beat in beats),
            timeout=60,
            what="a beat to dispatch",
            details=platform.logs,
        )
        leader, standby = sorted(beats, key=Beat.dispatches, reverse=True)
        # Four more sweeps (one a second) outlast the 3 s lease: a standby that ignored it
        # would have dispatched by now.
        sent = leader.dispatches()
        wait_for(
            lambda: leader.dispatches() >= sent + 4, timeout=60, what="four more dispatches", details=platform.logs
        )
        assert standby.dispatches() == 0, "both beats dispatched the schedule"
        assert "standing by" not in leader.log_path.read_text()

        leader.kill()  # SIGKILL: no clean hand-over, the lease must expire
        wait_for(lambda: standby.dispatches() >= 3, timeout=60, what="the standby to take over", details=platform.logs)
        assert "took the lease" in standby.log_path.read_text()
    finally:
        for beat in beats:
            beat.kill()
