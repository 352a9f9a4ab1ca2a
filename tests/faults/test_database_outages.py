"""PostgreSQL goes away while consumers run: a restart (they retry with backoff), and an
outage longer than their retries (the messages go back on the queue instead of becoming
dead letters that cannot be written)."""

import pytest

from .conftest import check_nothing_lost, payloads, progress, wait_all_final, wait_for

pytestmark = pytest.mark.faults


BACKLOG_BATCHES = 2  # of 1,000 ads (the most a batch takes) behind the single ones: seconds of work


def dead_letters(platform) -> list[tuple]:
    return platform.query("SELECT task_name, error FROM kernel_deadletter")


def test_consumers_ride_out_a_database_restart(platform, retailer_client):
    web = platform.start_web(mode="direct")
    retailer = retailer_client(web)
    answers = retailer.submit_all(payloads(200, prefix="pg"))  # single-ad messages
    # And a backlog deep enough that the crash meets the consumers at work: 200 ads alone were
    # all judged within the 0.1 s of one poll on a fast host, leaving nothing to meet it.
    accepted = {a.json()["id"] for a in answers}
    for n in range(BACKLOG_BATCHES):
        batch = retailer.session.post(
            f"{retailer.base_url}/api/v1/ads/batch", json={"ads": payloads(1000, prefix=f"pgb{n}")}, timeout=60
        )
        assert batch.status_code == 202, batch.text[:500]
        accepted |= {r["id"] for r in batch.json()["results"]}
    assert len(accepted) == len(answers) + 1000 * BACKLOG_BATCHES

    worker = platform.start_worker()
    wait_for(lambda: progress(platform)[0] >= 1, timeout=60, what="the consumers to get going", details=platform.logs)
    platform.postgres.stop("immediate")  # a crash: every connection is cut mid-transaction
    # Down until the consumers have met it (a condition, not a guess at how long that takes).
    wait_for(
        lambda: "OperationalError" in worker.log_path.read_text(),
        timeout=60,
        what="a consumer to meet the outage",
        details=platform.logs,
    )
    platform.postgres.start()

    wait_all_final(platform, len(accepted))
    check_nothing_lost(
        platform, retailer, accepted, scenario="postgres restarted under consumers", submitted=len(accepted)
    )
    assert dead_letters(platform) == []
    assert "OperationalError" in worker.log_path.read_text(), "no consumer met the restart"


def test_a_database_outage_longer_than_the_retries_loses_nothing(platform, retailer_client):
    web = platform.start_web(mode="direct")
    retailer = retailer_client(web)
    answers = retailer.submit_all(payloads(20, prefix="long"))
    accepted = {a.json()["id"] for a in answers}

    platform.postgres.stop("fast")
    # One retry only: every message runs out of retries while the database is down, and its
    # dead letter cannot be written either.
    worker = platform.start_worker(PIPELINE_MAX_RETRIES="1")
    wait_for(
        lambda: worker.log_path.read_text().count("could not record dead letter") >= 20,
        timeout=60,
        what="the consumers to give up on their messages",
        details=platform.logs,
    )
    platform.postgres.start()

    # A message that gave up in the instant the database came back has a dead letter instead
    # (not lost either): staff replay it.
    def settled():
        judged, projected = progress(platform)
        return projected + len(dead_letters(platform)) >= len(accepted) and judged == projected

    wait_for(settled, timeout=90, what="every message to be processed or dead-lettered", details=platform.logs)
    if dead_letters(platform):
        platform.manage("replay_dead_letters", "--all")
    wait_all_final(platform, len(accepted))
    check_nothing_lost(
        platform, retailer, accepted, scenario="postgres down longer than the retries", submitted=len(answers)
    )
