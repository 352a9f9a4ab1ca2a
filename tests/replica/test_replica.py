"""The read side on a real streaming replica: reads go to it; a by-id read never shows a
state older than one the retailer was told about; a replica that is down or lags past
READ_REPLICA_MAX_LAG is skipped for the primary, counted, and /readyz says degraded."""

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import wait_for
from tests.factories import ad_payload

pytestmark = [pytest.mark.faults, pytest.mark.replica]

# Every ad is held for review (the external validator is unreachable), so that staff can
# decide it: a newer state on the primary than on a paused replica.
HELD = {"EXTERNAL_VALIDATOR_URL": "http://127.0.0.1:9/", "EXTERNAL_VALIDATOR_RETRIES": "0"}


def listed(world) -> dict:
    page = requests.get(world.web.url + "/api/v1/ads?page_size=500", headers=world.headers, timeout=30)
    assert page.status_code == 200, page.text
    return {ad["id"]: ad for ad in page.json()["results"]}


def by_id(world, ad_id) -> dict:
    answer = requests.get(f"{world.web.url}/api/v1/ads/{ad_id}", headers=world.headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def submit(world, ref: str) -> dict:
    answer = requests.post(
        world.web.url + "/api/v1/ads", json=ad_payload(external_ref=ref), headers=world.headers, timeout=30
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def skipped_reads(world, reason: str) -> float:
    text = requests.get(world.web.url + "/metrics", timeout=30).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "adplatform_replica_skipped_reads_total" and sample.labels.get("reason") == reason
    )


def readiness(world) -> dict:
    answer = requests.get(world.web.url + "/readyz", timeout=30)
    assert answer.status_code == 200, answer.text  # degraded is still ready
    return answer.json()


def test_reads_come_from_the_replica_but_never_older_than_what_the_retailer_was_told(read_world):
    world = read_world(READ_REPLICA_MAX_LAG="3600", **HELD)  # lag allowed: the version guard alone
    first = submit(world, "first")
    wait_for(lambda: first["id"] in listed(world), timeout=30, what="the replica to replay the first ad")
    assert readiness(world)["checks"]["replica"] == "ok"

    world.replica.replay(paused=True)
    second = submit(world, "second")
    # The list comes from the replica, which has not replayed the second ad...
    assert second["id"] not in listed(world)
    # ...while a read by id of an ad the replica lacks falls back to the primary.
    assert by_id(world, second["id"])["status"] == "needs_review"

    # Staff decide the first ad; the projection tells the retailer (webhook) about version 3.
    world.manage_shell(
        "from ads_write.services.decisions import ad_decide; from ads_read.projections import ads_project; "
        f"ad_decide(ad_id='{first['id']}', status='approved', reviewer='alice', reason='checked by hand against the policy'); "
        f"ads_project(ad_ids=['{first['id']}'])"
    )
    assert listed(world)[first["id"]]["status"] == "needs_review"  # the replica's older state
    decided = by_id(world, first["id"])
    assert (decided["status"], decided["version"]) == ("approved", 3)  # never the older one

    world.replica.replay(paused=False)
    wait_for(lambda: second["id"] in listed(world), timeout=30, what="the replica to catch up")


def test_a_lagging_or_dead_replica_is_skipped_counted_and_shown_degraded(read_world, replicated_postgres):
    world = read_world(READ_REPLICA_MAX_LAG="1", **HELD)
    submit(world, "before")
    wait_for(lambda: readiness(world)["checks"].get("replica") == "ok", timeout=30, what="a caught-up replica")

    world.replica.replay(paused=True)
    lagging = submit(world, "lagging")

    def shown_degraded():
        state = readiness(world)
        return state["status"] == "degraded" and state["checks"]["replica"] == "degraded"

    # One probe answers both (the replica's lag is measured anew at each check interval).
    wait_for(shown_degraded, timeout=30, what="/readyz to show the lag")
    # Read from the primary while the replica lags.
    wait_for(lambda: lagging["id"] in listed(world), timeout=30, what="the list to skip the lagging replica")
    assert skipped_reads(world, "lagging") > 0

    world.replica.replay(paused=False)
    wait_for(lambda: readiness(world)["status"] == "ready", timeout=30, what="the replica back in use")

    world.replica.stop("immediate")
    try:
        down = submit(world, "down")
        assert down["id"] in listed(world)  # no 500: the primary answers
        assert by_id(world, down["id"])["status"] == "needs_review"
        # Each web process checks the replica at most every READ_REPLICA_CHECK_INTERVAL (1 s):
        # the probe may reach one that last found it up, and answers degraded at its next check.
        wait_for(shown_degraded, timeout=10, what="/readyz to show the replica down")
        assert skipped_reads(world, "down") > 0
    finally:
        world.replica.start()
