"""Admission control (ads_write/admission.py): with the consumers stopped, intake messages pile
up; once the oldest has waited longer than INTAKE_MAX_LAG, new intake is refused with 503
`intake-overloaded` and Retry-After (dry runs still answer), and once a real worker has
drained the queue it is accepted again, with every ad accepted before, during and after final."""

import json
import os
import socket
import time

import pytest
import redis

from ads_write import admission
from bench import external_validator
from tests.conftest import WorkerProcess, client_for, wait_for, worker_env
from tests.factories import ad_payload
from tests.test_metrics import scrape, value

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pipeline]
FINAL = {"approved", "rejected", "needs_review"}


@pytest.fixture
def lag_bound(settings):
    settings.INTAKE_MAX_LAG, settings.INTAKE_OVERLOADED_RETRY_AFTER = 2, 7
    settings.INTAKE_LAG_SAMPLE_SECONDS = 0  # every request looks: the test waits on the lag itself
    # No worker (nor an earlier test's, still reporting what it held): nothing else waits.
    redis.Redis.from_url(settings.REDIS_URL).delete("intake", "projections", admission.HELD_KEY)
    return settings


@pytest.mark.parametrize("mode", ["direct", "cqrs"])
def test_intake_is_shed_past_the_lag_bound_and_accepted_again_once_drained(
    mode, retailer, lag_bound, intake_mode, client, tmp_path, settings
):
    intake_mode(mode)
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the test client scrapes from there
    api = client_for(retailer)
    accepted = []

    def submit(ref):
        answer = api.post("/api/v1/ads", ad_payload(external_ref=ref), format="json")
        if answer.status_code == 202:
            accepted.append(answer.json()["id"])
        return answer

    assert submit("first").status_code == 202  # nothing waits yet
    before = scrape(client)
    # No worker runs: the message waits until it is older than the bound.
    wait_for(lambda: (admission.intake_lag_seconds() or 0) > 2, timeout=30, what="the intake lag past 2 s")

    shed = submit("shed")
    assert shed.status_code == 503, shed.content
    assert shed["Content-Type"] == "application/problem+json"
    assert shed.json()["type"].endswith("/intake-overloaded")
    assert shed["Retry-After"] == "7"
    batch = {"ads": [ad_payload(external_ref="b1"), ad_payload(external_ref="b2")]}
    refused = api.generic("POST", "/api/v1/ads/batch", json.dumps(batch), content_type="application/json")
    assert refused.status_code == 503 and refused.json()["type"].endswith("/intake-overloaded")
    dry_run = api.post("/api/v1/ads?validate_only=true", ad_payload(), format="json")
    assert dry_run.status_code == 200  # nothing is queued by a dry run: never shed
    shed_ads = "adplatform_intake_shed_ads_total"
    assert value(scrape(client), shed_ads, mode=mode) - value(before, shed_ads, mode=mode) == 3

    worker = WorkerProcess(
        env=worker_env(AD_INTAKE_MODE=mode),
        queues="intake,projections",
        concurrency=1,
        log_path=tmp_path / "worker.log",
    )
    try:
        worker.wait_ready()
        # Drained: the queue's head is young again, and intake is accepted.
        wait_for(lambda: submit("after").status_code == 202, timeout=60, interval=0.5, what="intake accepted again")

        def all_final():
            return all(api.get(f"/api/v1/ads/{ad_id}").json()["status"] in FINAL for ad_id in accepted)

        wait_for(all_final, timeout=60, interval=0.5, what="every accepted ad final", details=worker.log_path.read_text)
    finally:
        worker.stop()
    assert len(accepted) >= 2  # the first ad and the one after the drain, both final


def test_the_lag_counts_what_a_worker_holds_though_the_queue_is_empty(
    retailer, lag_bound, intake_mode, tmp_path, settings
):
    """The batching consumer prefetches: an ad it holds has left the broker's list, yet waits.
    Here its batch waits on a slow external validator (8 s a call), the list is empty, and the
    lag is still the held ad's age, through the worker's report, so intake is shed past 2 s;
    once the ad is judged the worker holds nothing and intake is accepted again."""
    intake_mode("direct")
    slow = external_validator.start(latency_ms=8000)
    client = redis.Redis.from_url(settings.REDIS_URL)
    api = client_for(retailer)
    worker = WorkerProcess(
        env=worker_env(AD_INTAKE_MODE="direct", EXTERNAL_VALIDATOR_URL=slow.url, EXTERNAL_VALIDATOR_TIMEOUT="30"),
        queues="intake,projections",
        concurrency=1,
        log_path=tmp_path / "worker.log",
    )
    try:
        worker.wait_ready()
        held = api.post("/api/v1/ads", ad_payload(external_ref="held"), format="json")
        assert held.status_code == 202, held.content
        wait_for(lambda: slow.in_flight == 1, timeout=30, what="the worker's call about the ad in flight")
        assert client.llen("intake") == 0  # the held ad has left the list
        wait_for(
            lambda: (admission.intake_lag_seconds() or 0) > 2,
            timeout=30,
            what="the held ad's age in the intake lag",
            details=worker.log_path.read_text,
        )
        shed = api.post("/api/v1/ads", ad_payload(external_ref="shed"), format="json")
        assert shed.status_code == 503 and shed.json()["type"].endswith("/intake-overloaded")

        # Judged after the validator's 8 s: the worker holds nothing, and intake is accepted.
        wait_for(
            lambda: api.get(f"/api/v1/ads/{held.json()['id']}").json()["status"] in FINAL,
            timeout=60,
            interval=0.5,
            what="the held ad final",
            details=worker.log_path.read_text,
        )
        wait_for(
            lambda: (admission.intake_lag_seconds() or 0) <= admission.SHED_FROM * 2,
            timeout=30,
            what="the lag back under where shedding starts",
        )
        after = api.post("/api/v1/ads", ad_payload(external_ref="after"), format="json")
        assert after.status_code == 202, after.content
    finally:
        worker.stop()
        slow.shutdown()
        slow.server_close()


def test_a_live_worker_deletes_the_reports_of_workers_gone_an_hour(lag_bound, settings, monkeypatch):
    """A killed worker never removes its field of intake:held: the next live worker's report
    deletes those older than an hour (the web only reads the hash), and ignores them before."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    now = time.time()
    client.hset(admission.HELD_KEY, "gone-long:1", f"{now - 7300:.3f} {now - 7200:.3f}")
    client.hset(admission.HELD_KEY, "gone-lately:2", f"{now - 120:.3f} {now - 60:.3f}")
    assert admission._oldest_held(client.hgetall(admission.HELD_KEY), now=now) is None  # neither is live
    monkeypatch.setitem(admission._pruned_at, "at", 0.0)

    admission.held_report(now - 3)

    fields = client.hgetall(admission.HELD_KEY)
    assert set(fields) == {b"gone-lately:2", f"{socket.gethostname()}:{os.getpid()}".encode()}
    assert admission._oldest_held(fields, now=time.time()) == pytest.approx(now - 3, abs=0.01)


def test_the_share_shed_rises_from_sixty_percent_of_the_bound_to_all_past_it(settings):
    settings.INTAKE_MAX_LAG = 5
    shares = [admission.shed_share(lag) for lag in (None, 0, 3, 4, 4.5, 5, 6, 600)]
    assert shares == pytest.approx([0, 0, 0, 0.5, 0.75, 1, 1, 1])
    settings.INTAKE_MAX_LAG = 0  # off: nothing is ever shed
    assert admission.shed_share(600) == 0


def test_between_the_ramp_and_the_bound_a_share_of_intake_is_shed_and_the_rest_accepted(
    retailer, lag_bound, intake_mode, settings
):
    """Intake eases down as the backlog nears its bound instead of stopping at once: a worker
    holding an ad accepted 80 s ago, with the bound at 100 s (shedding from 60 s), sheds about
    half of new intake; each refused request is a whole 503, each accepted one a 202."""
    intake_mode("direct")
    settings.INTAKE_MAX_LAG = 100
    client = redis.Redis.from_url(settings.REDIS_URL)
    api = client_for(retailer)

    def submit(ref):
        # The worker's report, fresh at every request (a slow machine must not age it out).
        now = time.time()
        client.hset(admission.HELD_KEY, "busy-worker:1", f"{now - 80:.3f} {now:.3f}")
        return api.post("/api/v1/ads", ad_payload(external_ref=ref), format="json")

    answers = [submit(f"r{i}") for i in range(100)]
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) == {202, 503}
    # p = 0.5 for each of 100 requests: outside 25..75 with a chance of about one in a million.
    assert 25 <= statuses.count(503) <= 75, statuses.count(503)
    shed = next(answer for answer in answers if answer.status_code == 503)
    assert shed.json()["type"].endswith("/intake-overloaded") and shed["Retry-After"] == "7"
    assert client.llen("intake") == statuses.count(202)  # what was shed published nothing
