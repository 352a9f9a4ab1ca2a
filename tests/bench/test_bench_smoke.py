"""The benches' in-process parts against the current code, so that a change of the services
they drive shows here rather than in the next benchmark run (the benches themselves run on
demand, never in the suite): the ceiling endpoint, the pipeline probe, the parsers of
worker logs and profiles, and the rules engine bench's workload."""

import os
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest

from adplatform.kernel.auth import Caller
from ads_read.models import AdView
from ads_read.pending import pending_get
from ads_write.models import Ad
from bench.fixtures import AD_MIX, ad_payloads, validated
from bench.measure import cpu_between, cpu_snapshot, task_costs
from bench.profiling import pipeline_probe, pyspy_summary


@pytest.mark.django_db
def test_the_ceiling_endpoint_checks_an_ad_like_the_api_but_accepts_nothing(api, settings, intake_mode):
    # Both through pytest-django's settings fixture, which undoes them in reverse order (an
    # override_settings decorator around it left the bench URLconf to the next tests).
    settings.ROOT_URLCONF = "bench.ceiling_urls"
    # In cqrs mode the real endpoint both stores the ad and marks it pending during the
    # request, so each assertion below would fail if the ceiling did the intake's work.
    intake_mode("cqrs")
    answer = api.post("/bench/ceiling/ads", ad_payloads(1)[0], format="json")
    assert answer.status_code == 202, answer.content
    assert answer.json()["status"] == "pending"
    assert pending_get(ad_id=answer.json()["id"]) is None  # not marked, so not submitted

    bad = api.post("/bench/ceiling/ads", {**ad_payloads(1)[0], "country": "XX"}, format="json")
    assert bad.status_code == 400
    assert bad["Content-Type"] == "application/problem+json"
    assert not Ad.objects.exists()


def _indexes(table: str) -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


@pytest.mark.django_db
def test_the_floor_run_drops_the_secondary_indexes_and_the_consumers_still_finish(retailer):
    """bench pipeline --without-indexes: what PostgreSQL costs with no index but those the
    keys need. (PostgreSQL's DDL is transactional: the test's rollback puts them back.)"""
    from bench.pipeline import _secondary_indexes_drop

    dropped = _secondary_indexes_drop()
    assert {"ad_submitted", "ad_headline_trgm", "audit_occurred_at", "adview_retailer_status"} <= set(dropped)
    left = _indexes("ads_write_ad") | _indexes("ads_write_verdict") | _indexes("audit_auditentry")
    assert not {"ad_submitted", "ad_headline_trgm", "audit_occurred_at"} & left
    # What keys and idempotency need stays: a redelivery must still find its twin.
    assert {"ads_write_ad_pkey", "verdict_one_per_ad_version", "audit_auditentry_event_id_key"} <= left
    assert "fingerprint_hash_retailer" in _indexes("ads_write_contentfingerprint")

    ads = validated(ad_payloads(len(AD_MIX)))
    pipeline_probe(caller=Caller(retailer=retailer, key_prefix="test"), ads=ads, ads_per_submit=len(ads))
    assert AdView.objects.count() == len(ads) and not AdView.objects.filter(status="pending").exists()


@pytest.mark.django_db
def test_the_probe_runs_the_real_consumers_and_times_every_stage_and_statement(retailer):
    ads = validated(ad_payloads(len(AD_MIX) * 2))
    result = pipeline_probe(caller=Caller(retailer=retailer, key_prefix="test"), ads=ads, ads_per_submit=len(ads))

    assert (result["ads"], result["intake_messages"]) == (len(ads), 1)
    assert {"submissions_store_judged", "audit_record_many", "verdicts_insert", "ads_project_judged"} <= {
        s["what"] for s in result["stages"]
    }
    assert any(s["what"] == "COPY audit_auditentry" for s in result["intake_statements"])
    # The intake consumer projects the ads it stored itself (ads_write/tasks.py).
    assert any(s["what"].startswith('INSERT INTO "ads_read_adview"') for s in result["intake_statements"])
    assert result["projection_ms_per_ad"] == 0
    assert result["intake_ms_per_ad"] >= result["intake_sql_ms_per_ad"] > 0
    # The consumers really ran: every ad has its final read row, and the mix ends as intended.
    assert not AdView.objects.filter(status="pending").exists()
    assert {"approved", "rejected"} <= set(AdView.objects.values_list("status", flat=True))
    assert AdView.objects.count() == len(ads)


def test_task_costs_are_read_from_a_celery_worker_log():
    line = "[2026-11-26 13:18:33,469: INFO/ForkPoolWorker-1] Task {name}[2ca25824-b1f6] succeeded in {s}s: {n}\n"
    log = (
        line.format(name="ads_write.tasks.process_submissions_task", s="0.25", n=100) * 2
        + line.format(name="ads_read.tasks.project_ads_task", s="0.05", n=100)
        + "[2026-11-26 13:18:33,470: INFO/MainProcess] Task ads_read.tasks.project_ads_task[1] received\n"
        # The batching consumer's own line (celery-batches logs no task line).
        + "[2026-12-07 20:25:20,811: INFO/ForkPoolWorker-2] judged 800 ads of 8 messages in 0.4 s\n"
        + "[2026-12-07 20:25:20,901: INFO/ForkPoolWorker-1] judged 200 ads of 2 messages in 0.1 s\n"
    )
    costs = task_costs(log)
    assert costs["process_submissions_task"] == {
        "messages": 2,
        "seconds": 0.5,
        "ads": 200,
        "ms_per_message": 250.0,
        "ms_per_ad": 2.5,
    }
    assert costs["project_ads_task"]["ms_per_ad"] == 0.5
    assert costs["process_submissions_batch_task"] == {
        "messages": 10,
        "seconds": 0.5,
        "ads": 1000,
        "ms_per_message": 50.0,
        "ms_per_ad": 0.5,
    }


BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\nprint('burned', flush=True)\ntime.sleep(60)"


def test_cpu_per_ad_is_split_by_part_of_the_stack():
    # A parent standing for the Celery worker's main process, its child for a pool process
    # that burns 0.3 s of CPU, says so, and waits to be killed (an ended process's CPU is lost).
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {BURN!r}]); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        before = cpu_snapshot(worker_pids=[worker.pid])
        assert worker.stdout.readline() == "burned\n"
        after = cpu_snapshot(worker_pids=[worker.pid])
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    used = cpu_between(before, after, ads=10)
    assert set(used) == {"publisher", "worker main", "worker pool", "postgresql", "redis", "machine", "stolen"}
    assert 25 <= used["worker pool"] <= 40  # 0.3 s over 10 ads, within the clock's ticks
    # The parent's own CPU is its interpreter's start (measured 5.0 ms/ad, 50 ms, on a loaded
    # machine): far below the pool's 30, which it would hold if the pool were counted as main.
    assert used["worker main"] < 12 and used["machine"] >= used["worker pool"]


def test_a_read_phase_shows_each_web_workers_cores_busiest_first():
    """bench read's per-round table: a phase held by one of the two gunicorn workers (all of
    wrk's connections accepted by it) shows as such, not only as a lower total."""
    from bench.read import _cores_busy

    before = {"processes": {10: ("worker main", 1.0), 11: ("worker pool", 5.0), 12: ("worker pool", 7.0)}}
    after = {"processes": {10: ("worker main", 1.1), 11: ("worker pool", 5.0), 12: ("worker pool", 17.0)}}
    cores = _cores_busy(
        {**before, "machine": 0.0, "stolen": 0.0}, {**after, "machine": 12.0, "stolen": 0.0}, seconds=10
    )
    assert cores["web_workers"] == [1.0, 0.0]
    assert cores["web"] == 1.01 and cores["machine"] == 1.2 and cores["rest"] == 0.19


def test_a_pyspy_profile_is_summarised_by_self_time_and_by_our_own_code(tmp_path):
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "workloop (billiard/pool.py:369);ads_submit (/srv/app/ads_write/services.py:80);send (redis/connection.py:10) 3\n"
        "workloop (billiard/pool.py:369);ads_project (/srv/app/ads_read/projections.py:75) 1\n"
    )
    summary = pyspy_summary(raw)
    assert summary["samples"] == 4
    assert summary["self"][0] == {"function": "send (redis/connection.py)", "share": 0.75}
    assert summary["inclusive_own_code"] == [
        {"function": "ads_submit (ads_write/services.py)", "share": 0.75},
        {"function": "ads_project (ads_read/projections.py)", "share": 0.25},
    ]


def test_the_rules_engine_bench_times_every_rule_and_no_external_call():
    """bench.rules_engine's workload, evaluated as its timed loop does (not timed here): every
    rule of the engine fires somewhere in it except the external validator's, which it leaves out."""
    from ads_write.validation import engine
    from ads_write.validation.ruleset import current_ruleset
    from bench import rules_engine

    work = rules_engine.workload(count=3000, clean_share=0.8)
    ruleset = current_ruleset()
    fired = {f.code for ad, facts in work for f in engine.evaluate(ad, facts=facts, ruleset=ruleset).findings}
    assert all(not facts.external_findings and not facts.external_error for _, facts in work)
    assert fired == {rule.code for rule in engine.RULES if not rule.code.startswith("EXTERNAL.")}


@pytest.mark.django_db(transaction=True)
def test_the_admin_scale_seed_writes_a_chain_that_verifies():
    # bench/admin_scale.py writes its audit entries with COPY, hashing them itself: they must
    # verify as the platform's own do (it broke once when entries gained their chain).
    from audit.selectors import audit_chain_verify
    from bench import admin_scale

    admin_scale.seed(40)
    report = audit_chain_verify()
    assert report.ok and report.complete and report.entries == 40, str(report)


def _mode_run(mode, *, accepted_per_s, completed_per_s, shed_per_s=0.0, steady_per_s=None):
    load = {"p50_ms": 5, "p95_ms": 9, "p99_ms": 12, "non_2xx": 0, "socket_errors": 0, "timeouts": 0}
    steady_per_s = completed_per_s if steady_per_s is None else steady_per_s
    steady = {
        "accepted_per_s": accepted_per_s,
        "completed_per_s": steady_per_s,
        "completed_share": steady_per_s / accepted_per_s if accepted_per_s else None,
    }
    return {
        "mode": mode,
        "latency_scale": 1.0,
        "latency_ms": 864,
        "repeat": 0,
        "load": load,
        "accepted_per_s": accepted_per_s,
        "shed_per_s": shed_per_s,
        "completed_per_s": completed_per_s,
        "completed_per_s_overall": completed_per_s,
        "unfinished": 0,
        "drain_s": 2.0,
        "lag": {"lag_to_read_s": None},
        "steady": steady,
        "db_sessions_during_load": {"advisory_waiting_mean": 0, "active_mean": 1},
    }


def test_the_modes_bench_says_whether_the_consumers_finish_what_the_api_accepts(capsys):
    from bench import modes

    runs = [
        _mode_run("sync", accepted_per_s=30, completed_per_s=30),
        # cqrs completed 92 a second counted from the load's start (its lag charged), yet
        # carried all it took once filled; direct fell behind.
        _mode_run("cqrs", accepted_per_s=100, completed_per_s=92, steady_per_s=99),
        _mode_run("direct", accepted_per_s=400, completed_per_s=90, shed_per_s=50),
    ]
    summary = modes._summarise(runs, modes=["sync", "cqrs", "direct"], scales=[1.0])
    assert [r["goal_completed_met"] for r in summary] == [None, True, False]
    modes._print(
        summary,
        args=SimpleNamespace(
            connections=25,
            profile="procfile",
            web_workers=2,
            web_threads=4,
            worker_concurrency=2,
            batching=None,
            duration=30,
            repeat=1,
        ),
    )
    out = capsys.readouterr().out
    assert (
        "validator 864 ms, cqrs: completed/s 99 >= 0.95 × accepted/s 100 (from 5 s into the load; share 0.99): MET"
        in out
    )
    assert (
        "validator 864 ms, direct: completed/s 90 >= 0.95 × accepted/s 400 (from 5 s into the load; share 0.225): MISSED"
        in out
    )
    # Issue 20's other goals: final soon after the load, and ten times sync's completions.
    assert "cqrs: every accepted ad final within 5 s after the load (unfinished 0, last final 2.0 s after): MET" in out
    assert "validator 864 ms, cqrs: completed/s 92 >= 10 × sync's 30: MISSED" in out
    assert "validator 864 ms, direct: completed/s 90 >= 10 × sync's 30: MISSED" in out
    assert "4.32 M" in out  # direct's 50 shed ads a second, per day


@pytest.mark.django_db
def test_steady_throughput_counts_accepted_and_completed_in_the_same_window():
    from datetime import UTC, datetime, timedelta

    from bench.measure import steady_throughput
    from tests.factories import AdViewFactory

    start = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def at(seconds):
        return start + timedelta(seconds=seconds)

    AdViewFactory(submitted_at=at(1), projected_at=at(2), status="approved")  # before the window
    AdViewFactory(submitted_at=at(3), projected_at=at(6), status="approved")  # completed in it
    AdViewFactory(submitted_at=at(7), projected_at=at(8), status="rejected")  # both in it
    AdViewFactory(submitted_at=at(9), projected_at=at(12), status="approved")  # final after it
    AdViewFactory(submitted_at=at(9.5), projected_at=at(9.5), status="pending")  # not final
    AdViewFactory(submitted_at=at(-30), projected_at=at(6), status="approved")  # not of this load
    figures = steady_throughput(load_since=start.timestamp(), since=at(5).timestamp(), until=at(10).timestamp())
    assert figures["accepted"] == 3 and figures["completed"] == 2
    assert (figures["accepted_per_s"], figures["completed_per_s"], figures["completed_share"]) == (0.6, 0.4, 0.667)
    assert (figures["from_s"], figures["seconds"]) == (5.0, 5.0)


def test_a_mode_that_accepted_nothing_misses_its_goals():
    # Admission control shed the whole load: no accepted ad is unfinished, yet nothing was done.
    from bench import modes

    runs = [
        _mode_run("sync", accepted_per_s=30, completed_per_s=30),
        _mode_run("direct", accepted_per_s=0, completed_per_s=0, shed_per_s=800),
    ]
    summary = modes._summarise(runs, modes=["sync", "direct"], scales=[1.0])
    assert [(r["goal_completed_met"], r["goal_final_met"]) for r in summary] == [(None, None), (False, False)]


@pytest.mark.django_db
def test_the_changes_bench_times_a_change_against_a_submission():
    from bench.changes import measure

    phases = measure(ads=2)
    assert set(phases) == {"request path (cqrs)", "consumer", "whole path (sync)"}
    for figures in phases.values():
        assert figures["submit_ms"]["median"] > 0 and figures["change_ms"]["median"] > 0 and figures["ratio"] > 0
    assert Ad.objects.filter(changes__status="judged").distinct().count() == 2


@pytest.mark.django_db
def test_the_trivial_read_endpoint_pays_what_a_read_pays_and_reads_nothing(api, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    settings.ROOT_URLCONF = "bench.ceiling_urls"
    assert APIClient().get("/bench/ceiling/read").status_code == 401  # API-key auth, as every read
    with CaptureQueriesContext(connection) as queries:
        answer = api.get("/bench/ceiling/read")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    assert "RateLimit" in " ".join(answer.headers)  # the rate limit ran
    assert not [q for q in queries.captured_queries if "ads_read" in q["sql"]]
    assert api.get("/bench/ceiling/read", HTTP_ACCEPT="text/csv").status_code == 406  # negotiation


@pytest.mark.django_db
def test_the_read_bench_loads_rows_whose_stored_documents_are_what_the_api_renders():
    from rest_framework.renderers import JSONRenderer

    from ads_read.serializers import AdViewSerializer
    from bench import read

    read._load(rows=30, retailers=3)
    rows = list(AdView.objects.all())
    assert len(rows) == 30 and {row.status for row in rows} == {"approved", "rejected", "needs_review"}
    for row in rows:
        assert bytes(row.document) == JSONRenderer().render(AdViewSerializer(row).data)
    assert read._documents_stored()


def _read_run(phase, round_, *, rps, p99, errors=0):
    load = {"ok_per_s": rps, "p50_ms": 1, "p95_ms": 2, "p99_ms": p99, "first_bad": ""}
    return {"phase": phase, "round": round_, "load": {**load, "non_2xx": errors, "socket_errors": 0, "timeouts": 0}}


def test_the_read_bench_holds_each_endpoint_to_the_trivial_one_of_its_round(capsys):
    from bench import read

    runs = []
    for round_, trivial_rps in enumerate([1000, 2000, 1000]):
        runs += [
            _read_run("trivial", round_, rps=trivial_rps, p99=10),
            _read_run("by_id", round_, rps=trivial_rps * 0.85, p99=20),
            _read_run("list", round_, rps=trivial_rps * 0.4, p99=40),  # ratio 0.4 every round
            _read_run("failed", round_, rps=trivial_rps * 0.6, p99=25, errors=1 if round_ == 0 else 0),
        ]
    summary = read._summarise(runs)
    assert summary["by_id"]["rps_ratio"] == 0.85 and summary["by_id"]["rps_ratio_rounds"] == [0.85] * 3
    assert summary["list"]["requests_per_s"] == 400  # a median of req/s, though its ratio is 0.4
    read._print(summary, SimpleNamespace(rows=1000, connections=16, web_workers=2, web_threads=4, duration=2, rounds=3))
    out = capsys.readouterr().out
    assert "by_id req/s >= 0.8 × trivial: 0.85 × (850 / 1,000 req/s): MET" in out
    assert "by_id p99 <= 3 × trivial: 2.00 × (20.00 / 10.00 ms): MET" in out
    assert "list req/s >= 0.5 × trivial: 0.40 × (400 / 1,000 req/s): MISSED" in out
    assert "list p99 <= 3 × trivial: 4.00 × (40.00 / 10.00 ms): MISSED" in out
    assert "failed req/s >= 0.5 × trivial: 0.60 × (600 / 1,000 req/s), 1 errors: MISSED" in out  # errors miss
    assert "trivial req/s" not in out and "trivial p99" not in out


def test_a_shed_request_is_sent_again_after_its_retry_after_and_other_answers_returned():
    """bench/api_client.py: 503 intake-overloaded twice (Retry-After 0), then the 202; another
    503 (a broker down) is returned as it is, not retried."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import requests

    from bench.api_client import post_until_admitted

    answers = [
        (503, "intake-overloaded"),
        (503, "intake-overloaded"),
        (202, None),
        (503, "broker-unavailable"),
    ]
    bodies = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            status, kind = answers.pop(0)
            payload = json.dumps({"type": f"https://adplatform.example/problems/{kind}"} if kind else {"id": "x"})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(payload.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/api/v1/ads"
    try:
        with requests.Session() as session:
            shed = []
            admitted = post_until_admitted(session, url, {"n": 1}, timeout=10, shed=shed)
            assert admitted.status_code == 202 and admitted.json() == {"id": "x"}
            assert len(shed) == 2 and bodies == [{"n": 1}] * 3
            refused = post_until_admitted(session, url, {"n": 2}, timeout=10, shed=shed)
            assert refused.status_code == 503 and len(shed) == 2 and bodies[-1] == {"n": 2}
    finally:
        server.shutdown()
        server.server_close()
