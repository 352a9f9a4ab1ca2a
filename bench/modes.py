"""`python -m bench modes`: the paper's Tables 1–3 on our components.

For each external-validator latency (the paper's 864 ms × each `--latency-scale`) and each
intake mode in turn, the same stack starts on a fresh database — gunicorn gthread
(`--web-workers` × `--web-threads`: by default the Procfile's counts, `--profile paper` the
paper's 5 servers × 5 concurrent requests), a Celery worker (the Procfile's processes), the local external validator — and wrk holds 25
connections open for `--duration` seconds of `POST /api/v1/ads`. Per mode: accepted/s and
/day, response percentiles, completed/s (a final read row, from the database) and the lag
from acceptance to the final state. Modes run interleaved `--repeat` times; medians are
reported, with the ratios to `sync` side by side with the paper's."""

from .fixtures import ad_bodies, bench_retailer
from .load import run_wrk
from .measure import LockWaiters, final_count, lag_stats, shed_ads_total, steady_throughput, wait_final
from .report import DAY, machine_info, median, print_machine, results_write, run_dir, table
from .stack import (
    DATABASE,
    Stack,
    app_env,
    batching_argument,
    batching_env,
    broker_argument,
    broker_env,
    database_drop,
    database_fresh,
    database_url,
    django_setup,
    procfile_defaults,
    procfile_pipeline_workers,
    redis_flush,
    redis_for,
    validator_start,
    web_start,
    worker_start,
)

MODES = ("sync", "cqrs", "direct")
# Issue 20: the consumers finish what the API accepts: completed per second against accepted
# per second, both counted in the load's window from STEADY_FROM_S on (the pipeline filled).
GOAL_COMPLETED_SHARE = 0.95
STEADY_FROM_S = 5.0
GOAL_FINAL_AFTER_LOAD_S = 5.0  # every accepted ad final within this long after the load stops
GOAL_SYNC_FACTOR = 10  # completed/s against sync's, at the paper's latency
PAPER_LATENCY_MS = 864
# The case study's Tables 1–3 (ads per day) and the ratios it states.
PAPER = {
    "sync": {"per_day": 1.0e6, "ratio": 1.0, "table": "Table 1 (synchronous)"},
    "cqrs": {"per_day": 2.2e6, "ratio": 2.24, "table": "Table 2 (CQRS)"},
    "direct": {"per_day": 5.1e6, "ratio": 5.1, "table": "Table 3 (optimized, publish-first)"},
}


def web_profiles() -> dict:
    """gunicorn processes × threads: the shipped Procfile's, or the paper's 5 servers × 5."""
    procfile = procfile_defaults()
    return {"procfile": (procfile["WEB_CONCURRENCY"], procfile["WEB_THREADS"]), "paper": (5, 5)}


def add_arguments(parser) -> None:
    procfile = procfile_defaults()
    parser.add_argument("--duration", type=float, default=30, help="seconds of load per mode (default 30)")
    parser.add_argument("--connections", type=int, default=25, help="concurrent requests (default 25)")
    parser.add_argument(
        "--profile",
        choices=sorted(web_profiles()),
        default="procfile",
        help="gunicorn processes × threads: the Procfile's defaults (default) or the paper's 5 × 5",
    )
    parser.add_argument("--web-workers", type=int, help="gunicorn processes (default: the --profile's)")
    parser.add_argument("--web-threads", type=int, help="threads per gunicorn process (default: the --profile's)")
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=procfile["WORKER_CONCURRENCY"],
        help=f"prefork processes of each Celery pipeline worker (default {procfile['WORKER_CONCURRENCY']}, "
        f"the Procfile's; it runs {procfile_pipeline_workers()} such workers)",
    )
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated, default sync,cqrs,direct")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=PAPER_LATENCY_MS,
        help="external validator latency at scale 1.0 (default 864, the paper's)",
    )
    parser.add_argument(
        "--latency-scale", default="1.0,0.1", help="comma-separated scales of --latency-ms (default 1.0,0.1)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the modes this many times, interleaved; medians are reported"
    )
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up before measuring (default 3)")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=60,
        help="seconds to wait after the load for accepted ads to become final",
    )
    parser.add_argument(
        "--validator-cmd", help="start the external validator with this command instead ({python} {port} {latency_ms})"
    )
    batching_argument(parser)
    parser.add_argument(
        "--redis-url",
        help="use this Redis database (flushed at the start and the end) instead of a private redis-server",
    )
    broker_argument(parser)


def run(args) -> dict:
    workers, threads = web_profiles()[args.profile]
    args.web_workers = args.web_workers or workers
    args.web_threads = args.web_threads or threads
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := set(modes) - set(MODES):
        raise SystemExit(f"unknown modes: {', '.join(sorted(unknown))}")
    scales = [float(s) for s in args.latency_scale.split(",")]
    folder = run_dir("modes")
    with Stack(folder) as stack:
        redis_url = redis_for(stack, args.redis_url)
        stack.callback(database_drop, DATABASE)  # after every child has stopped (last out)
        env = app_env(
            run_dir=folder,
            database_url=database_url(DATABASE),
            redis_url=redis_url,
            **batching_env(args.batching),
            **broker_env(args.broker),
        )
        django_setup(env)
        machine = {**machine_info(redis_url=redis_url), "broker": "rabbitmq" if args.broker else "redis"}
        print_machine(machine)
        runs = []
        for scale in scales:
            latency_ms = args.latency_ms * scale
            with Stack(folder) as validator_stack:
                validator_url = validator_start(validator_stack, latency_ms=latency_ms, command=args.validator_cmd)
                for repeat in range(args.repeat):
                    for mode in modes:
                        print(f"--- {mode}, validator {latency_ms:.0f} ms, run {repeat + 1}/{args.repeat}", flush=True)
                        figures = _run_mode(
                            args, mode=mode, folder=folder, env=env, redis_url=redis_url, validator_url=validator_url
                        )
                        runs.append(
                            {
                                "mode": mode,
                                "latency_scale": scale,
                                "latency_ms": latency_ms,
                                "repeat": repeat,
                                **figures,
                            }
                        )
    summary = _summarise(runs, modes=modes, scales=scales)
    _print(summary, args=args)
    data = {
        "machine": machine,
        "config": vars(args),
        "paper": PAPER,
        "summary": summary,
        "runs": runs,
    }
    path = results_write(folder, data)
    chart = _chart(summary, path.with_suffix(".png"))
    print(f"\nresults: {path}\nchart:   {chart}")
    return data


def _run_mode(args, *, mode: str, folder, env: dict, redis_url: str, validator_url: str) -> dict:
    from django.db import connections

    connections.close_all()
    database_fresh(DATABASE, run_dir=folder)
    redis_flush(redis_url)
    broker_env(args.broker)  # its queues purged too
    _, key = bench_retailer()
    connections.close_all()
    mode_env = {**env, "AD_INTAKE_MODE": mode, "EXTERNAL_VALIDATOR_URL": validator_url}
    auth = {"Authorization": f"Bearer {key}"}
    with Stack(folder) as stack:
        base_url, _ = web_start(
            stack, env=mode_env, workers=args.web_workers, threads=args.web_threads, name=f"web-{mode}"
        )
        worker_start(stack, env=mode_env, concurrency=args.worker_concurrency, name=f"worker-{mode}")
        submit = {
            "paths": ["/api/v1/ads"],
            "method": "POST",
            "bodies": ad_bodies(),
            "headers": auth,
            "connections": args.connections,
            "script_dir": folder,
        }
        # Warm every process and thread up — reads load the URLconf (and with it the
        # validation tables), DB connections and the API-key cache; one second of submits
        # imports and connects the broker transport — and let the pipeline finish the
        # warm-up ads before measuring.
        run_wrk(
            label=f"warm-up reads {mode}",
            base_url=base_url,
            paths=["/api/v1/ads?page_size=1"],
            headers=auth,
            connections=args.connections,
            duration=args.warmup,
            script_dir=folder,
        )
        warm = run_wrk(label=f"warm-up {mode}", base_url=base_url, duration=1, **submit)
        wait_final(warm.ok, timeout=args.drain_timeout, desc=f"warm-up drain {mode}")
        before, shed_before = final_count(), shed_ads_total(base_url)
        with LockWaiters(env["DATABASE_URL"]) as waiters:
            load = run_wrk(label=f"load {mode}", base_url=base_url, duration=args.duration, **submit)
        shed = shed_ads_total(base_url) - shed_before
        samples = wait_final(before + load.ok, timeout=args.drain_timeout, desc=f"drain {mode}")
        lag = lag_stats(since=load.started_at, until=load.ended_at)
        steady = steady_throughput(
            load_since=load.started_at, since=load.started_at + STEADY_FROM_S, until=load.ended_at
        )
    seconds = load.ended_at - load.started_at
    accepted_per_s = load.ok / load.duration_s if load.duration_s else 0.0
    drained_at = lag["last_final_at"]
    return {
        "load": load.as_dict(),
        "accepted": load.ok,
        "accepted_per_s": round(accepted_per_s, 2),
        "accepted_per_day": round(accepted_per_s * DAY),
        # Refused by admission control (503 intake-overloaded; part of wrk's non-2xx).
        "shed": round(shed),
        "shed_per_s": round(shed / load.duration_s, 2) if load.duration_s else 0.0,
        "completed_in_window": lag["final_in_window"],
        "completed_per_s": round(lag["final_in_window"] / seconds, 2),
        # What the consumers carry against what the API takes once the pipeline has filled:
        # the goal's figure. The window's own share above also charges the pipeline's lag
        # (ads accepted in its last second or two are final after it).
        "steady": steady,
        "completed_total": lag["final"],
        # wrk counts only answers received within the run; requests still in flight when it
        # stopped were accepted too, so the final count may exceed `accepted` by up to
        # --connections.
        "unfinished": max(0, load.ok - lag["final"]),
        # Completion rate over the whole run, load and drain: what the pipeline carries.
        "completed_per_s_overall": round(lag["final"] / (drained_at - load.started_at), 2) if drained_at else 0.0,
        "lag": lag,
        "drain_s": round(samples[-1][0] - load.ended_at, 1),
        "db_sessions_during_load": waiters.summary(),
    }


def _summarise(runs: list[dict], *, modes: list[str], scales: list[float]) -> list[dict]:
    rows = []
    for scale in scales:
        sync = median(r["accepted_per_s"] for r in runs if r["mode"] == "sync" and r["latency_scale"] == scale)
        for mode in modes:
            mine = [r for r in runs if r["mode"] == mode and r["latency_scale"] == scale]
            accepted = median(r["accepted_per_s"] for r in mine)
            # Ratios per repetition (sync and this mode measured side by side), then the median.
            ratios = [
                r["accepted_per_s"] / s["accepted_per_s"]
                for r in mine
                for s in runs
                if s["mode"] == "sync"
                and s["latency_scale"] == scale
                and s["repeat"] == r["repeat"]
                and s["accepted_per_s"]
            ]
            lags = [r["lag"]["lag_to_read_s"] for r in mine if r["lag"]["lag_to_read_s"]]
            rows.append(
                {
                    "mode": mode,
                    "latency_scale": scale,
                    "latency_ms": mine[0]["latency_ms"],
                    "runs": len(mine),
                    "accepted_per_s": accepted,
                    "accepted_per_day": accepted * DAY if accepted is not None else None,
                    "ratio_to_sync": median(ratios) if sync else None,
                    "p50_ms": median(r["load"]["p50_ms"] for r in mine),
                    "p95_ms": median(r["load"]["p95_ms"] for r in mine),
                    "p99_ms": median(r["load"]["p99_ms"] for r in mine),
                    "non_2xx": sum(
                        r["load"]["non_2xx"] + r["load"]["socket_errors"] + r["load"]["timeouts"] for r in mine
                    ),
                    "shed_per_s": median(r.get("shed_per_s", 0.0) for r in mine),
                    "completed_per_s": median(r["completed_per_s"] for r in mine),
                    "completed_per_s_overall": median(r["completed_per_s_overall"] for r in mine),
                    "steady_accepted_per_s": median(r["steady"]["accepted_per_s"] for r in mine),
                    "steady_completed_per_s": median(r["steady"]["completed_per_s"] for r in mine),
                    "steady_share": median(r["steady"]["completed_share"] or 0.0 for r in mine),
                    "unfinished": median(r["unfinished"] for r in mine),
                    "lag_p50_s": median(lag["p50"] for lag in lags),
                    "lag_p99_s": median(lag["p99"] for lag in lags),
                    "chain_lock_waiters": median(r["db_sessions_during_load"]["advisory_waiting_mean"] for r in mine),
                    "db_active_sessions": median(r["db_sessions_during_load"]["active_mean"] for r in mine),
                    "paper_per_day": PAPER[mode]["per_day"],
                    "paper_ratio": PAPER[mode]["ratio"],
                }
            )
            row = rows[-1]
            row["drain_s"] = max(r["drain_s"] for r in mine)
            # An asynchronous mode that accepted nothing (admission control shed the whole load)
            # meets neither goal, though no accepted ad was left unfinished.
            accepted_none = mode != "sync" and not row["accepted_per_s"]
            row["goal_completed_met"] = (
                None
                if mode == "sync"
                else False
                if accepted_none
                else (row["steady_share"] or 0) >= GOAL_COMPLETED_SHARE
            )
            # Every accepted ad final soon after the load stops (in every run).
            row["goal_final_met"] = (
                None
                if mode == "sync"
                else False
                if accepted_none
                else all(r["unfinished"] == 0 and r["drain_s"] <= GOAL_FINAL_AFTER_LOAD_S for r in mine)
            )
        sync_completed = median(
            r["completed_per_s"] for r in runs if r["mode"] == "sync" and r["latency_scale"] == scale
        )
        for row in rows:
            at_paper = row["latency_scale"] == scale and row["latency_ms"] == PAPER_LATENCY_MS
            row.setdefault("goal_sync_factor_met", None)
            if at_paper and row["mode"] != "sync" and sync_completed is not None:
                row["sync_completed_per_s"] = sync_completed
                row["goal_sync_factor_met"] = (row["completed_per_s"] or 0) >= GOAL_SYNC_FACTOR * sync_completed
    return rows


def _print(summary: list[dict], *, args) -> None:
    print(
        f"\nIntake modes, {args.connections} concurrent requests, gunicorn {args.web_workers}×{args.web_threads} gthread, "
        f"({args.profile} profile), {procfile_pipeline_workers()} × Celery -c {args.worker_concurrency}"
        f"{ {None: '', True: ', INTAKE_BATCHING on', False: ', INTAKE_BATCHING off'}[args.batching] }, "
        f"{args.duration:.0f} s per mode, median of {args.repeat} run(s)"
    )
    print(
        table(
            [
                "validator",
                "mode",
                "paper /day",
                "paper ×",
                "accepted/s",
                "accepted /day",
                "× sync",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "errors",
                "completed/s",
                "compl./s overall",
                "unfinished",
                "lag p50 s",
                "lag p99 s",
                "DB active",
                "on chain lock",
            ],
            [
                [
                    f"{r['latency_ms']:.0f} ms",
                    r["mode"],
                    f"{r['paper_per_day'] / 1e6:.1f} M",
                    f"{r['paper_ratio']:.2f}",
                    r["accepted_per_s"],
                    f"{r['accepted_per_day'] / 1e6:.2f} M",
                    r["ratio_to_sync"],
                    r["p50_ms"],
                    r["p95_ms"],
                    r["p99_ms"],
                    r["non_2xx"],
                    r["completed_per_s"],
                    r["completed_per_s_overall"],
                    r["unfinished"],
                    r["lag_p50_s"],
                    r["lag_p99_s"],
                    r["db_active_sessions"],
                    r["chain_lock_waiters"],
                ]
                for r in summary
            ],
        )
    )
    print(
        "\nPer day, side by side with the paper's tables (completed: final within the load window; "
        f"steady: accepted and completed in the same window, from {STEADY_FROM_S:g} s into the load)"
    )
    print(
        table(
            [
                "validator",
                "mode",
                "paper /day",
                "accepted /day",
                "shed /day",
                "completed /day",
                "completed ÷ accepted",
                "steady accepted/s",
                "steady completed/s",
                "steady ÷",
            ],
            [
                [
                    f"{r['latency_ms']:.0f} ms",
                    r["mode"],
                    f"{r['paper_per_day'] / 1e6:.2f} M",
                    _millions(r["accepted_per_s"]),
                    _millions(r["shed_per_s"]),
                    _millions(r["completed_per_s"]),
                    f"{r['completed_per_s'] / r['accepted_per_s']:.2f}" if r["accepted_per_s"] else None,
                    r["steady_accepted_per_s"],
                    r["steady_completed_per_s"],
                    r["steady_share"],
                ]
                for r in summary
            ],
        )
    )
    for r in summary:
        if r["mode"] == "sync":
            continue  # sync answers with the final state: nothing is left to complete
        where = f"GOAL validator {r['latency_ms']:.0f} ms, {r['mode']}:"
        if r["goal_completed_met"] is not None:
            print(
                f"{where} completed/s {r['steady_completed_per_s']} >= {GOAL_COMPLETED_SHARE} × accepted/s "
                f"{r['steady_accepted_per_s']} (from {STEADY_FROM_S:g} s into the load; "
                f"share {r['steady_share']}): {_verdict(r['goal_completed_met'])}"
            )
        print(
            f"{where} every accepted ad final within {GOAL_FINAL_AFTER_LOAD_S:g} s after the load "
            f"(unfinished {r['unfinished']}, last final {r['drain_s']} s after): {_verdict(r['goal_final_met'])}"
        )
        if r["goal_sync_factor_met"] is not None:
            print(
                f"{where} completed/s {r['completed_per_s']} >= {GOAL_SYNC_FACTOR} × sync's "
                f"{r['sync_completed_per_s']}: {_verdict(r['goal_sync_factor_met'])}"
            )


def _verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def _millions(per_second) -> str | None:
    return None if per_second is None else f"{per_second * DAY / 1e6:.2f} M"


def _chart(summary: list[dict], path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = sorted({r["latency_scale"] for r in summary}, reverse=True)
    fig, axes = plt.subplots(1, len(scales), figsize=(6 * len(scales), 4.5), squeeze=False)
    for ax, scale in zip(axes[0], scales, strict=True):
        rows = [r for r in summary if r["latency_scale"] == scale]
        x = range(len(rows))
        width = 0.27
        paper = [r["paper_per_day"] / 1e6 for r in rows]
        accepted = [(r["accepted_per_day"] or 0) / 1e6 for r in rows]
        completed = [(r["completed_per_s_overall"] or 0) * DAY / 1e6 for r in rows]
        ax.bar([i - width for i in x], paper, width, label="paper (Tables 1–3)", color="#bbbbbb")
        ax.bar(list(x), accepted, width, label="ours: accepted", color="#3572b0")
        ax.bar([i + width for i in x], completed, width, label="ours: completed (final, load + drain)", color="#59a14f")
        ax.set_xticks(list(x), [r["mode"] for r in rows])
        ax.set_yscale("log")
        ax.set_ylabel("million ads / day")
        ax.set_title(f"external validator {rows[0]['latency_ms']:.0f} ms")
        ax.legend(fontsize=8)
    fig.suptitle("Intake modes: ours vs the paper")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
