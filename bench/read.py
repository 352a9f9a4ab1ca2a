"""`python -m bench read`: the query API over a large read table.

A database of its own (`adplatform_bench_read`) holds --rows AdView rows spread over
--retailers retailers and 30 days (loaded with COPY; kept for the next run when it already
holds that many rows, unless --reload). gunicorn serves with the Procfile's processes and threads (`--web-workers`
× `--web-threads` override them); wrk holds --connections open on, in turns (--rounds times):
  trivial        GET /bench/ceiling/read: a DRF view with what every read pays (API-key
                 auth, scope, rate limit, negotiation, JSON) that reads nothing (ceiling_urls);
  by_id          GET /api/v1/ads/{id} over a random sample of one retailer's ads;
  list           GET /api/v1/ads?page_size=50 (first page, newest first);
  list_filtered  GET /api/v1/ads?status=rejected&page_size=50;
  failed         GET /api/v1/ads/failed (50 a page).
Each endpoint is taken as a ratio to the trivial endpoint of the same round, and the median
of the rounds' ratios is held to the goals: by id >= 0.8 × its req/s, lists of 50 >= 0.5 ×,
each p99 <= 3 × its p99."""

import json
import random
from datetime import timedelta

from django.utils import timezone

from .load import run_wrk
from .measure import cpu_between, cpu_by_process, cpu_snapshot, housekeeping_between, server_housekeeping
from .profiling import print_profile, pyspy_profile
from .report import machine_info, median, print_machine, progress, results_write, run_dir, table
from .stack import (
    Stack,
    app_env,
    database_exists,
    database_fresh,
    database_migrated,
    database_url,
    django_setup,
    redis_for,
    web_arguments,
    web_start,
)

READ_DATABASE = "adplatform_bench_read"
RETAILER_PREFIX = "Bench Read "
TRIVIAL = "trivial"
# Each endpoint's req/s at least this share of the trivial endpoint's, in the same round.
GOAL_RATIO = {"by_id": 0.8, "list": 0.5, "list_filtered": 0.5, "failed": 0.5}
GOAL_P99_RATIO = 3  # each endpoint's p99 at most this many times the trivial endpoint's
ID_SAMPLE = 10_000
SPREAD = timedelta(days=30)


def add_arguments(parser) -> None:
    parser.add_argument("--rows", type=int, default=1_000_000, help="ads in the read table (default 1,000,000)")
    parser.add_argument("--retailers", type=int, default=20, help="retailers the rows are spread over (default 20)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent requests (default 16)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per endpoint and round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the endpoints, interleaved (default 3)")
    web_arguments(parser)
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up before measuring (default 3)")
    parser.add_argument(
        "--profile",
        type=float,
        default=0,
        help="py-spy the web server for this many seconds of each endpoint's first round (default off)",
    )
    parser.add_argument("--reload", action="store_true", help="reload the rows even if the database holds as many")
    parser.add_argument(
        "--redis-url",
        help="use this Redis database (flushed at the start and the end) instead of a private redis-server",
    )


def run(args) -> dict:
    folder = run_dir("read")
    with Stack(folder) as stack:
        redis_url = redis_for(stack, args.redis_url)
        reuse = not args.reload and database_exists(READ_DATABASE)
        if reuse:
            database_migrated(READ_DATABASE, run_dir=folder)
        env = app_env(
            run_dir=folder,
            database_url=database_url(READ_DATABASE),
            redis_url=redis_url,
            DJANGO_SETTINGS_MODULE="bench.settings",  # the URLs with the trivial endpoint
        )
        django_setup(env)
        from django.db import connections

        from adplatform.kernel.services import api_key_create

        machine = machine_info(redis_url=redis_url)
        print_machine(machine)
        if reuse:
            retailers = _retailers()
            reuse = len(retailers) == args.retailers and _row_count() == args.rows and _documents_stored()
        if not reuse:
            connections.close_all()
            database_fresh(READ_DATABASE, run_dir=folder)
            retailers = _load(rows=args.rows, retailers=args.retailers)
        else:
            print(f"reusing {args.rows:,} rows in {READ_DATABASE} (--reload to load anew)", flush=True)
        reader = retailers[0]
        key = api_key_create(retailer=reader, label="bench")
        ids = _id_sample(reader.id)
        connections.close_all()
        base_url, web = web_start(stack, env=env, workers=args.web_workers, threads=args.web_threads)
        auth = {"Authorization": f"Bearer {key}"}
        phases = {
            TRIVIAL: ["/bench/ceiling/read"],
            "by_id": [f"/api/v1/ads/{ad_id}" for ad_id in ids],
            "list": ["/api/v1/ads?page_size=50"],
            "list_filtered": ["/api/v1/ads?status=rejected&page_size=50"],
            "failed": ["/api/v1/ads/failed"],
        }
        # Until every gunicorn process has loaded the URLconf, its DB connection and the key cache.
        run_wrk(
            label="warm-up",
            base_url=base_url,
            paths=phases["by_id"],
            headers=auth,
            connections=args.connections,
            duration=args.warmup,
            script_dir=folder,
        )
        runs, profiles = [], {}
        for round_ in range(args.rounds):
            for phase, paths in phases.items():
                seconds = min(args.profile, args.duration) if round_ == 0 else 0
                with pyspy_profile(stack, pid=web.pid, seconds=seconds, name=f"py-spy-{phase}") as profile:
                    before = cpu_snapshot(worker_pids=[web.pid]), server_housekeeping()
                    load = run_wrk(
                        label=f"{phase} {round_ + 1}/{args.rounds}",
                        base_url=base_url,
                        paths=paths,
                        headers=auth,
                        connections=args.connections,
                        duration=args.duration,
                        script_dir=folder,
                    )
                    after = cpu_snapshot(worker_pids=[web.pid]), server_housekeeping()
                runs.append(
                    {
                        "phase": phase,
                        "round": round_,
                        "load": load.as_dict(),
                        "cores": _cores_busy(before[0], after[0], seconds=args.duration),
                        "server_housekeeping": housekeeping_between(before[1], after[1]),
                    }
                )
                if profile:
                    profiles[phase] = profile
    summary = _summarise(runs)
    _print(summary, args)
    _print_rounds(runs)
    for phase, profile in profiles.items():
        print_profile(profile, what=f"web server, {phase}")
    data = {"machine": machine, "config": vars(args), "summary": summary, "runs": runs, "web_profiles": profiles}
    print(f"\nresults: {results_write(folder, data)}")
    return data


def _cores_busy(before: dict, after: dict, *, seconds: float) -> dict:
    """Cores kept busy during a phase, by part: the web server (gunicorn's master and its
    workers), PostgreSQL, the whole machine, and the rest of it (wrk, and anything else on the
    host), with what the hypervisor stole. A phase much slower than its peers shows here whose
    it was: ours, the server's housekeeping, or the host's."""
    used = cpu_between(before, after, ads=1)  # milliseconds per part
    web = used["worker main"] + used["worker pool"]
    cores = {
        "web": web,
        "postgresql": used["postgresql"],
        "rest": used["machine"] - web - used["postgresql"] - used["redis"],
        "machine": used["machine"],
        "stolen": used["stolen"],
    }
    busy = {part: round(ms / 1000 / seconds, 2) for part, ms in cores.items()}
    # Each gunicorn worker's own share, busiest first: a process runs Python on one core at a
    # time, so wrk's connections split unevenly between the workers (kept alive, each stays
    # with the worker that accepted it) cap the phase below the machine.
    workers = [used_s for part, used_s in cpu_by_process(before, after).values() if part == "worker pool"]
    busy["web_workers"] = sorted((round(used_s / seconds, 2) for used_s in workers), reverse=True)
    return busy


def _retailers():
    from adplatform.kernel.models import Retailer

    return list(Retailer.objects.filter(name__startswith=RETAILER_PREFIX).order_by("created_at", "name"))


def _row_count() -> int:
    from ads_read.models import AdView

    return AdView.objects.count()


def _documents_stored() -> bool:
    """Rows loaded before the read rows stored their documents have none (the migration adds
    the column empty): those are loaded anew rather than measured on the fallback."""
    from ads_read.models import AdView

    first = AdView.objects.order_by("id").values_list("document", flat=True).first()
    return first is not None


def _id_sample(retailer_id) -> list[str]:
    from ads_read.models import AdView

    ids = list(AdView.objects.filter(retailer_id=retailer_id).values_list("id", flat=True))
    return [str(i) for i in random.Random(7).sample(ids, min(ID_SAMPLE, len(ids)))]


def _templates() -> list[dict]:
    """Read rows of the three final states (approved, rejected, held), as projections write them."""
    base = {
        "external_ref": "",
        "status": "approved",
        "headline": "Trail running shoes for winter",
        "description": "Grippy soles and waterproof uppers for cold, wet runs.",
        "landing_url": "https://www.nimbus-store.example/shoes/trail",
        "landing_domain": "www.nimbus-store.example",
        "display_url": "nimbus-store.example/shoes",
        "country": "US",
        "language": "en",
        "category": "sports",
        "price_amount": "89.90",
        "price_currency": "USD",
        "findings": [],
        "finding_codes": "",
        "ruleset_version": "2026-11.0",
        "version": 2,
        "decided_by": "",
        "decision_reason": "",
    }
    rejected = {
        "code": "POLICY.EXCESSIVE_PUNCTUATION",
        "category": "policy",
        "severity": "reject",
        "message": "Too many exclamation marks.",
        "field": "headline",
        "evidence": {},
    }
    review = {
        "code": "POLICY.SUPERLATIVE_CLAIM",
        "category": "policy",
        "severity": "review",
        "message": "Unsupported superlative claim.",
        "field": "description",
        "evidence": {"term": "guaranteed"},
    }
    return (
        [base] * 7
        + [
            {
                **base,
                "status": "rejected",
                "headline": "Winter sale on running shoes!!",
                "findings": [rejected],
                "finding_codes": " POLICY.EXCESSIVE_PUNCTUATION ",
            },
        ]
        * 2
        + [
            {**base, "status": "needs_review", "findings": [review], "finding_codes": " POLICY.SUPERLATIVE_CLAIM "},
        ]
    )


def _load(*, rows: int, retailers: int):
    """Create the retailers and COPY `rows` read rows, time-ordered ids over the last 30 days."""
    from django.db import connection
    from uuid_utils import compat

    from adplatform.kernel.services import retailer_create
    from ads_read.models import AdView
    from ads_read.serializers import stored_document

    owners = [retailer_create(name=f"{RETAILER_PREFIX}{n:03d}", actor="system:bench") for n in range(retailers)]
    fields = AdView._meta.concrete_fields
    templates = _templates()
    defaults = {f.attname: f.get_default() for f in fields}  # appeal, dates, age: none
    start = timezone.now() - SPREAD
    step = SPREAD / max(rows, 1)
    table_name = connection.ops.quote_name(AdView._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor, progress(total=rows, desc=f"{'COPY read rows':<24}", unit="row") as bar:
        with cursor.cursor.copy(f"COPY {table_name} ({columns}) FROM STDIN") as copy:
            for i in range(rows):
                submitted = start + step * i
                owner = owners[i % retailers]
                row = {
                    # Each retailer gets the whole mix of states, in turn.
                    **templates[(i // retailers) % len(templates)],
                    "id": compat.uuid7(nanoseconds=int(submitted.timestamp() * 1e9)),
                    "retailer_id": owner.id,
                    "retailer_name": owner.name,
                    "external_ref": f"bench-{i}",
                    "submitted_at": submitted,
                    "reviewed_at": submitted + timedelta(seconds=1),
                    "projected_at": submitted + timedelta(seconds=1),
                }
                row = {**defaults, **row}
                # As the projection stores it: the answer by id, rendered once.
                row["document"] = stored_document(row, vendor=connection.vendor)
                row["findings"] = json.dumps(row["findings"])
                copy.write_row([row[f.attname] for f in fields])
                if i % 10_000 == 0:
                    bar.update(min(10_000, rows - i))
        # Vacuumed, not only analysed: a table read before its first vacuum has each page's
        # hint bits set (and written back) by the first reads, and autovacuum comes to it a
        # minute later, in the middle of the phases. A table in service has been vacuumed.
        # (Inside a transaction, as the suite checks the loader, VACUUM cannot run.)
        vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        cursor.execute(f"{vacuum} {table_name}")
    return owners


def _summarise(runs: list[dict]) -> dict:
    """Per endpoint: medians of its rounds, and the medians of its per-round ratios to the
    trivial endpoint of the same round (req/s and p99), held to the goals."""
    trivial = {r["round"]: r["load"] for r in runs if r["phase"] == TRIVIAL}
    summary = {}
    for phase in dict.fromkeys(r["phase"] for r in runs):
        mine = [r for r in runs if r["phase"] == phase]
        loads = [r["load"] for r in mine]
        errors = sum(m["non_2xx"] + m["socket_errors"] + m["timeouts"] for m in loads)
        rps_ratio = median(_ratio(r["load"]["ok_per_s"], trivial.get(r["round"], {}).get("ok_per_s")) for r in mine)
        p99_ratio = median(_ratio(r["load"]["p99_ms"], trivial.get(r["round"], {}).get("p99_ms")) for r in mine)
        measured = phase != TRIVIAL and not errors
        summary[phase] = {
            "requests_per_s": median(m["ok_per_s"] for m in loads),
            "p50_ms": median(m["p50_ms"] for m in loads),
            "p95_ms": median(m["p95_ms"] for m in loads),
            "p99_ms": median(m["p99_ms"] for m in loads),
            "errors": errors,
            "first_error": next((m["first_bad"] for m in loads if m["first_bad"]), ""),
            "rps_ratio": rps_ratio,
            "p99_ratio": p99_ratio,
            "rps_ratio_rounds": [
                _ratio(r["load"]["ok_per_s"], trivial.get(r["round"], {}).get("ok_per_s")) for r in mine
            ],
            "goal_rps_ratio": GOAL_RATIO.get(phase),
            "goal_rps_met": measured and rps_ratio is not None and rps_ratio >= GOAL_RATIO[phase]
            if phase in GOAL_RATIO
            else None,
            "goal_p99_met": measured and p99_ratio is not None and p99_ratio <= GOAL_P99_RATIO
            if phase != TRIVIAL
            else None,
        }
    return summary


def _ratio(value, base):
    return round(value / base, 3) if value is not None and base else None


def _print(summary: dict, args) -> None:
    print(
        f"\nReads over {args.rows:,} rows, {args.connections} connections, gunicorn {args.web_workers}×{args.web_threads} "
        f"gthread, {args.duration:.0f} s × {args.rounds} rounds; medians, ratios to `{TRIVIAL}` per round"
    )
    print(
        table(
            ["endpoint", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "req/s ÷ trivial", "p99 ÷ trivial"],
            [
                [
                    name,
                    s["requests_per_s"],
                    s["p50_ms"],
                    s["p95_ms"],
                    s["p99_ms"],
                    s["errors"],
                    s["rps_ratio"],
                    s["p99_ratio"],
                ]
                for name, s in summary.items()
            ],
        )
    )
    base = summary.get(TRIVIAL, {})
    print("\nGoals (medians of the rounds' ratios to the trivial endpoint):")
    for name, s in summary.items():
        if s["goal_rps_met"] is not None:
            print(
                f"{name} req/s >= {s['goal_rps_ratio']} × trivial: {_fmt(s['rps_ratio'])} × "
                f"({_fmt(s['requests_per_s'])} / {_fmt(base.get('requests_per_s'))} req/s){_errors(s)}: "
                f"{'MET' if s['goal_rps_met'] else 'MISSED'}"
            )
        if s["goal_p99_met"] is not None:
            print(
                f"{name} p99 <= {GOAL_P99_RATIO} × trivial: {_fmt(s['p99_ratio'])} × "
                f"({_fmt(s['p99_ms'])} / {_fmt(base.get('p99_ms'))} ms){_errors(s)}: "
                f"{'MET' if s['goal_p99_met'] else 'MISSED'}"
            )
    for name, s in summary.items():
        if s["first_error"]:
            print(f"first error in {name}: {s['first_error'][:300]}")


def _print_rounds(runs: list[dict]) -> None:
    """Each phase of each round with the cores it kept busy and PostgreSQL's housekeeping in
    it: where one round's phase ran slow, whose doing it was."""
    print("\nEach round (cores busy: web, PostgreSQL, the rest of the machine incl. wrk, stolen):")
    print(
        table(
            [
                "round",
                "endpoint",
                "req/s",
                "p99 ms",
                "web",
                "per worker",
                "postgresql",
                "rest",
                "stolen",
                "checkpoints",
                "autovacuum",
            ],
            [
                [
                    r["round"] + 1,
                    r["phase"],
                    r["load"]["ok_per_s"],
                    r["load"]["p99_ms"],
                    r["cores"]["web"],
                    " / ".join(f"{c:.2f}" for c in r["cores"].get("web_workers", [])),
                    r["cores"]["postgresql"],
                    r["cores"]["rest"],
                    r["cores"]["stolen"],
                    r["server_housekeeping"]["checkpoints"],
                    r["server_housekeeping"]["autovacuums"] + r["server_housekeeping"]["autoanalyzes"],
                ]
                for r in runs
            ],
        )
    )


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def _errors(s: dict) -> str:
    return f", {s['errors']} errors" if s["errors"] else ""
