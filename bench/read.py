"""`python -m bench read`: the query API over a large read table.

A database of its own (`adplatform_bench_read`) holds --rows AdView rows spread over
--retailers retailers and 30 days (loaded with COPY; kept for the next run when it already
holds that many rows, unless --reload). gunicorn serves; wrk holds --connections open on,
in turns (--rounds times, medians reported):
  by_id          GET /api/v1/ads/{id} over a random sample of one retailer's ads;
  list           GET /api/v1/ads?page_size=50 (first page, newest first);
  list_filtered  GET /api/v1/ads?status=rejected&page_size=50;
  failed         GET /api/v1/ads/failed.
Goal: >= 1,000 req/s with p99 <= 50 ms for reads by id and lists."""

import json
import random
from datetime import timedelta

from django.utils import timezone

from .load import run_wrk
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
    web_start,
)

READ_DATABASE = "adplatform_bench_read"
RETAILER_PREFIX = "Bench Read "
GOAL_REQUESTS_PER_S = 1_000
GOAL_P99_MS = 50
ID_SAMPLE = 10_000
SPREAD = timedelta(days=30)


def add_arguments(parser) -> None:
    parser.add_argument("--rows", type=int, default=1_000_000, help="ads in the read table (default 1,000,000)")
    parser.add_argument("--retailers", type=int, default=20, help="retailers the rows are spread over (default 20)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent requests (default 16)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per endpoint and round (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over the endpoints, interleaved (default 3)")
    parser.add_argument("--web-workers", type=int, default=5, help="gunicorn processes (default 5)")
    parser.add_argument("--web-threads", type=int, default=5, help="threads per gunicorn process (default 5)")
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
        env = app_env(run_dir=folder, database_url=database_url(READ_DATABASE), redis_url=redis_url)
        django_setup(env)
        from django.db import connections

        from adplatform.kernel.services import api_key_create

        machine = machine_info(redis_url=redis_url)
        print_machine(machine)
        if reuse:
            retailers = _retailers()
            reuse = len(retailers) == args.retailers and _row_count() == args.rows
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
                    load = run_wrk(
                        label=f"{phase} {round_ + 1}/{args.rounds}",
                        base_url=base_url,
                        paths=paths,
                        headers=auth,
                        connections=args.connections,
                        duration=args.duration,
                        script_dir=folder,
                    )
                runs.append({"phase": phase, "round": round_, "load": load.as_dict()})
                if profile:
                    profiles[phase] = profile
    summary = _summarise(runs)
    _print(summary, args)
    for phase, profile in profiles.items():
        print_profile(profile, what=f"web server, {phase}")
    data = {"machine": machine, "config": vars(args), "summary": summary, "runs": runs, "web_profiles": profiles}
    print(f"\nresults: {results_write(folder, data)}")
    return data


def _retailers():
    from adplatform.kernel.models import Retailer

    return list(Retailer.objects.filter(name__startswith=RETAILER_PREFIX).order_by("created_at", "name"))


def _row_count() -> int:
    from ads_read.models import AdView

    return AdView.objects.count()


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

    owners = [retailer_create(name=f"{RETAILER_PREFIX}{n:03d}", actor="system:bench") for n in range(retailers)]
    fields = AdView._meta.concrete_fields
    templates = [{**t, "findings": json.dumps(t["findings"])} for t in _templates()]
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
                copy.write_row([row[f.attname] if f.attname in row else _default(f) for f in fields])
                if i % 10_000 == 0:
                    bar.update(min(10_000, rows - i))
        cursor.execute(f"ANALYZE {table_name}")
    return owners


def _default(field):
    value = field.get_default()
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def _summarise(runs: list[dict]) -> dict:
    summary = {}
    for phase in dict.fromkeys(r["phase"] for r in runs):
        mine = [r["load"] for r in runs if r["phase"] == phase]
        rps, p99 = median(m["ok_per_s"] for m in mine), median(m["p99_ms"] for m in mine)
        summary[phase] = {
            "requests_per_s": rps,
            "p50_ms": median(m["p50_ms"] for m in mine),
            "p95_ms": median(m["p95_ms"] for m in mine),
            "p99_ms": p99,
            "errors": sum(m["non_2xx"] + m["socket_errors"] + m["timeouts"] for m in mine),
            "first_error": next((m["first_bad"] for m in mine if m["first_bad"]), ""),
            "goal_met": rps >= GOAL_REQUESTS_PER_S and p99 <= GOAL_P99_MS,
        }
    return summary


def _print(summary: dict, args) -> None:
    print(
        f"\nReads over {args.rows:,} rows, {args.connections} connections, gunicorn {args.web_workers}×{args.web_threads} "
        f"gthread, {args.duration:.0f} s × {args.rounds} rounds, medians "
        f"(goal >= {GOAL_REQUESTS_PER_S:,} req/s, p99 <= {GOAL_P99_MS} ms)"
    )
    print(
        table(
            ["endpoint", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "goal"],
            [
                [
                    name,
                    s["requests_per_s"],
                    s["p50_ms"],
                    s["p95_ms"],
                    s["p99_ms"],
                    s["errors"],
                    "met" if s["goal_met"] else "MISSED",
                ]
                for name, s in summary.items()
            ],
        )
    )
    for name, s in summary.items():
        if s["first_error"]:
            print(f"first error in {name}: {s['first_error'][:300]}")
