"""`python -m bench intake`: how close single-ad intake comes to the bare API, and what batch
intake carries.

One gunicorn (direct mode, settings `bench.settings`) serves, in the same run and in turns
(`--rounds` times, medians reported):
  trivial  GET /healthz — the load generator's headroom (wrk's own CPU is reported too);
  ceiling  POST /bench/ceiling/ads — DRF + auth + basic validation, 202, publishes nothing;
  single   POST /api/v1/ads — the real intake: event, publish to Redis, pending marker;
  batch    POST /api/v1/ads/batch with {"ads": [...]} of --batch-size ads.
No Celery worker runs: the web tier has the cores to itself, and the intake queue is emptied
between turns. Its length after each turn checks that every accepted ad was published.
Goals: single/ceiling >= 0.6; batch >= 20,000 ads/s."""

import math

import redis

from .fixtures import ad_bodies, batch_body, bench_retailer
from .load import run_wrk
from .profiling import print_profile, pyspy_profile
from .report import machine_info, median, print_machine, results_write, run_dir, table
from .stack import (
    DATABASE,
    Stack,
    app_env,
    database_drop,
    database_fresh,
    django_setup,
    redis_for,
    web_arguments,
    web_start,
)

GOAL_RATIO = 0.6
GOAL_BATCH_ADS_PER_S = 20_000
INTAKE_QUEUE = "intake"


def add_arguments(parser) -> None:
    parser.add_argument("--duration", type=float, default=10, help="seconds per phase and round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all phases, interleaved (default 3)")
    parser.add_argument("--connections", type=int, default=25, help="concurrent requests (default 25)")
    parser.add_argument(
        "--batch-connections", type=int, default=None, help="concurrent batch requests (default: --connections)"
    )
    web_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=1000, help="ads per batch request (default 1000)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up before measuring (default 3)")
    parser.add_argument(
        "--profile",
        type=float,
        default=0,
        help="py-spy the web server for this many seconds of each phase's first round (default off)",
    )
    parser.add_argument(
        "--redis-url",
        help="use this Redis database (flushed at the start and the end) instead of a private redis-server",
    )


def run(args) -> dict:
    folder = run_dir("intake")
    with Stack(folder) as stack:
        redis_url = redis_for(stack, args.redis_url)
        stack.callback(database_drop, DATABASE)  # after every child has stopped (last out)
        env = app_env(
            run_dir=folder,
            database_url=database_fresh(DATABASE, run_dir=folder),
            redis_url=redis_url,
            AD_INTAKE_MODE="direct",
            DJANGO_SETTINGS_MODULE="bench.settings",
            # No consumer runs here, so the queue's oldest message ages through each turn and
            # the shipped bound (5 s) would shed most of it: a bound no turn reaches, so each
            # request still pays admission control's check as on the defaults, but none is shed.
            INTAKE_MAX_LAG=3600,
        )
        django_setup(env)
        from django.conf import settings
        from django.db import connections

        machine = machine_info(redis_url=redis_url)
        print_machine(machine)
        _, key = bench_retailer()
        connections.close_all()
        base_url, web = web_start(stack, env=env, workers=args.web_workers, threads=args.web_threads)
        auth = {"Authorization": f"Bearer {key}"}
        broker = redis.Redis.from_url(redis_url)
        phases = {
            "trivial": {"paths": ["/healthz"]},
            "ceiling": {"paths": ["/bench/ceiling/ads"], "method": "POST", "bodies": ad_bodies()},
            "single": {"paths": ["/api/v1/ads"], "method": "POST", "bodies": ad_bodies()},
            "batch": {
                "paths": ["/api/v1/ads/batch"],
                "method": "POST",
                "bodies": [batch_body(args.batch_size)],
                "connections": args.batch_connections or args.connections,
            },
        }
        # Warm every process and thread up on both write paths (lazy imports, the broker
        # connection, the API-key cache, the DB connection) before anything is measured.
        for phase in ("ceiling", "single"):
            run_wrk(
                label=f"warm-up {phase}",
                base_url=base_url,
                headers=auth,
                connections=args.connections,
                duration=args.warmup,
                script_dir=folder,
                **phases[phase],
            )
        messages_per_request = {"single": 1, "batch": math.ceil(args.batch_size / settings.INTAKE_MESSAGE_SIZE)}
        runs, profiles = [], {}
        for round_ in range(args.rounds):
            for phase, spec in phases.items():
                broker.delete(INTAKE_QUEUE)
                seconds = min(args.profile, args.duration) if round_ == 0 and phase != "trivial" else 0
                with pyspy_profile(stack, pid=web.pid, seconds=seconds, name=f"py-spy-{phase}") as profile:
                    load = run_wrk(
                        label=f"{phase} {round_ + 1}/{args.rounds}",
                        base_url=base_url,
                        headers=auth,
                        connections=spec.get("connections", args.connections),
                        duration=args.duration,
                        script_dir=folder,
                        **{k: v for k, v in spec.items() if k != "connections"},
                    )
                if profile:
                    profiles[phase] = profile
                ads = load.ok * (args.batch_size if phase == "batch" else 1)
                queued = broker.llen(INTAKE_QUEUE)
                broker.delete(INTAKE_QUEUE)
                runs.append(
                    {
                        "phase": phase,
                        "round": round_,
                        "load": load.as_dict(),
                        "ads_per_s": round(ads / load.duration_s, 1) if phase in messages_per_request else None,
                        "messages_queued": queued,
                        "messages_expected": load.ok * messages_per_request[phase]
                        if phase in messages_per_request
                        else None,
                        "wrk_cpu_share": round(load.wrk_cpu_s / load.duration_s, 3),
                    }
                )
        markers = _pending_markers(broker)
    summary = {**_summarise(runs, args), "pending_markers": markers}
    _print(summary, args)
    for phase, profile in profiles.items():
        print_profile(profile, what=f"web server, {phase} phase")
    data = {
        "machine": machine,
        "config": vars(args),
        "summary": summary,
        "runs": runs,
        "web_profiles": profiles,
    }
    print(f"\nresults: {results_write(folder, data)}")
    return data


def _pending_markers(broker, sample: int = 200) -> dict:
    """What each accepted ad leaves in Redis once its message is consumed: its read-your-
    writes marker (size from MEMORY USAGE over a sample, and its time to live), and while in
    flight its entry in the intake journal."""
    from ads_read.pending import pending_key

    keys = []
    for key in broker.scan_iter(match=pending_key("*"), count=1000):
        keys.append(key)
        if len(keys) >= sample:
            break
    if not keys:
        return {"bytes_each": None, "ttl_s": None, "journal_bytes_each": None}
    from ads_write.journal import EVENTS_KEY, INDEX_KEY

    journaled = broker.zcard(INDEX_KEY)
    journal_bytes = sum(broker.memory_usage(k, samples=0) or 0 for k in (INDEX_KEY, EVENTS_KEY))
    return {
        "bytes_each": round(sum(broker.memory_usage(k) for k in keys) / len(keys)),
        "ttl_s": max(broker.ttl(k) for k in keys),
        # Every ad accepted during the run is still in flight (no worker consumes here).
        "journal_bytes_each": round(journal_bytes / journaled) if journaled else None,
    }


def _summarise(runs: list[dict], args) -> dict:
    phases = {}
    for phase in dict.fromkeys(r["phase"] for r in runs):
        mine = [r for r in runs if r["phase"] == phase]
        phases[phase] = {
            "requests_per_s": median(r["load"]["ok_per_s"] for r in mine),
            "ads_per_s": median(r["ads_per_s"] for r in mine),
            "p50_ms": median(r["load"]["p50_ms"] for r in mine),
            "p95_ms": median(r["load"]["p95_ms"] for r in mine),
            "p99_ms": median(r["load"]["p99_ms"] for r in mine),
            "errors": sum(r["load"]["non_2xx"] + r["load"]["socket_errors"] + r["load"]["timeouts"] for r in mine),
            "first_error": next((r["load"]["first_bad"] for r in mine if r["load"]["first_bad"]), ""),
            "wrk_cpu_share": median(r["wrk_cpu_share"] for r in mine),
            # wrk does not count answers still in flight when it stops: those ads were
            # published too, so the queue may hold up to --connections requests' more.
            "all_published": all(r["messages_queued"] >= r["messages_expected"] for r in mine)
            if mine[0]["messages_expected"] is not None
            else None,
        }
    # The ratio per round (both measured minutes apart at most), then the median.
    by_round = {}
    for r in runs:
        by_round.setdefault(r["round"], {})[r["phase"]] = r["load"]["ok_per_s"]
    ratios = [p["single"] / p["ceiling"] for p in by_round.values() if p.get("ceiling") and "single" in p]
    ratio = median(ratios)
    batch = phases.get("batch", {}).get("ads_per_s")
    return {
        "phases": phases,
        "single_to_ceiling": round(ratio, 3) if ratio is not None else None,
        "single_to_ceiling_per_round": [round(x, 3) for x in ratios],
        "goal_single_to_ceiling": GOAL_RATIO,
        "goal_single_to_ceiling_met": ratio is not None and ratio >= GOAL_RATIO,
        "batch_ads_per_s": batch,
        "goal_batch_ads_per_s": GOAL_BATCH_ADS_PER_S,
        "goal_batch_met": None if batch is None else batch >= GOAL_BATCH_ADS_PER_S,
    }


def _print(summary: dict, args) -> None:
    print(
        f"\nIntake (direct mode), {args.connections} connections, gunicorn {args.web_workers}×{args.web_threads} gthread, "
        f"{args.duration:.0f} s × {args.rounds} rounds, medians"
    )
    print(
        table(
            ["phase", "req/s", "ads/s", "p50 ms", "p95 ms", "p99 ms", "errors", "wrk CPU share", "all published"],
            [
                [
                    name,
                    p["requests_per_s"],
                    p["ads_per_s"],
                    p["p50_ms"],
                    p["p95_ms"],
                    p["p99_ms"],
                    p["errors"],
                    p["wrk_cpu_share"],
                    p["all_published"],
                ]
                for name, p in summary["phases"].items()
            ],
        )
    )
    for name, p in summary["phases"].items():
        if p["first_error"]:
            print(f"first error in {name}: {p['first_error'][:300]}")
    markers = summary["pending_markers"]
    if markers["bytes_each"]:
        print(
            f"each accepted ad keeps a pending marker of {markers['bytes_each']} bytes in Redis until PENDING_MARKER_LINGER "
            f"after its read row lands (no worker runs here: up to {markers['ttl_s']:,} s), and, in flight, "
            f"{markers['journal_bytes_each']} bytes of intake journal"
        )
    ratio = summary["single_to_ceiling"]
    print(
        f"single/ceiling = {ratio} (goal >= {GOAL_RATIO}: {'met' if summary['goal_single_to_ceiling_met'] else 'MISSED'})"
    )
    if summary["batch_ads_per_s"] is not None:  # None only with --rounds 0
        print(
            f"batch = {summary['batch_ads_per_s']:,.0f} ads/s (goal >= {GOAL_BATCH_ADS_PER_S:,}: "
            f"{'met' if summary['goal_batch_met'] else 'MISSED'})"
        )
