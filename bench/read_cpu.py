"""CPU per request of a read endpoint (by default the read by id) against the trivial read
endpoint, in one process: the
WSGI application called directly (every middleware, DRF, API-key auth, scope, rate limit,
negotiation; no HTTP server or client in the figure), with this process's CPU time and the
PostgreSQL backend's (its /proc/<pid>/schedstat, so the database's work per read counts too).
CPU time, not wall time: steadier on a shared machine, where `bench read` is not.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<scratch db> REDIS_URL=redis://127.0.0.1:6379/<n> \\
        SECRET_KEY=... AUDIT_HMAC_KEYS=bench=... WEBHOOK_SECRET_KEYS=bench=... DB_CONN_MAX_AGE=3600 \\
        .venv/bin/python bench/read_cpu.py [--endpoint by_id|list|list_filtered|failed] [--rows 200000] \\
        [--block 200] [--rounds 12] [--state FILE]

The first run migrates the database and loads --rows read rows as `bench read` does (its
retailers and stored documents), with a key and a sample of ids kept in --state; later runs
reuse them (compare two checkouts by running each on the same database and state, in turns).
Then, --rounds times, a block of --block requests to the trivial endpoint
(`GET /bench/ceiling/read`) and one to --endpoint, as `bench read` calls it (by_id: `GET
/api/v1/ads/{id}`, random ids of one retailer; the lists: their first page of 50), and prints
the medians of µs per request (this process, PostgreSQL, both) and, per round, the trivial
endpoint's total over the endpoint's: the in-process counterpart of `bench read`'s req/s
ratio (goals 0.8 by id, 0.5 the lists), without the costs both share outside Django (gunicorn, wrk, Redis's
own CPU), so lower than the bench's. DB_CONN_MAX_AGE keeps one backend for the whole run.
"""

import argparse
import io
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")  # the URLs with the trivial endpoint
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

TRIVIAL, BY_ID = "trivial", "by_id"
# The lists as `bench read` asks for them: (path, query string).
LISTS = {
    "list": ("/api/v1/ads", "page_size=50"),
    "list_filtered": ("/api/v1/ads", "status=rejected&page_size=50"),
    "failed": ("/api/v1/ads/failed", ""),
}


def prepare(*, rows: int, state: Path) -> dict:
    if state.exists():
        return json.loads(state.read_text())
    from adplatform.kernel.services import api_key_create
    from ads_read.models import AdView
    from bench.read import _load

    call_command("migrate", verbosity=0)
    reader = _load(rows=rows, retailers=20)[0]
    ids = [str(i) for i in AdView.objects.filter(retailer_id=reader.id).values_list("id", flat=True)]
    data = {"key": api_key_create(retailer=reader, label="read-cpu"), "ids": random.Random(7).sample(ids, 10_000)}
    state.write_text(json.dumps(data))
    return data


def backend_cpu_ns(pid: int) -> int:
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0])  # ns on a CPU


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--endpoint", choices=[BY_ID, *LISTS], default=BY_ID, help="the endpoint held against the trivial one (by_id)"
    )
    parser.add_argument("--rows", type=int, default=200_000, help="read rows loaded on the first run (200,000)")
    parser.add_argument("--block", type=int, default=200, help="requests per endpoint and round (200)")
    parser.add_argument("--rounds", type=int, default=12, help="rounds, each endpoint in turn (12)")
    parser.add_argument("--state", type=Path, default=Path("/tmp/adplatform-read-cpu.json"), help="key and ids")
    args = parser.parse_args()
    state = prepare(rows=args.rows, state=args.state)

    from adplatform.wsgi import application

    base = {
        "REQUEST_METHOD": "GET",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Bearer {state['key']}",
        "HTTP_ACCEPT": "*/*",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
    }
    endpoint = args.endpoint
    if endpoint == BY_ID:
        targets = [(f"/api/v1/ads/{ad_id}", "") for ad_id in state["ids"]]
    else:
        targets = [LISTS[endpoint]]
    paths = {TRIVIAL: [("/bench/ceiling/read", "")], endpoint: targets}
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def requests(phase: str, count: int) -> None:
        for i in range(count):
            path, query = paths[phase][i % len(paths[phase])]
            environ = dict(base, PATH_INFO=path, QUERY_STRING=query)
            environ["wsgi.input"] = io.BytesIO(b"")
            response = application(environ, start_response)
            b"".join(response)
            response.close()

    for phase in paths:  # the URLconf, the key cache, the connection and its kept statements
        requests(phase, 200)
    if any(not s.startswith("200") for s in statuses):
        raise SystemExit(f"not 200 in the warm-up: {sorted(set(statuses))}")
    per_request = {phase: [] for phase in paths}  # (python µs, postgres µs) per round
    for _ in range(args.rounds):
        for phase in paths:
            statuses.clear()
            pid = backend_pid()
            pg, cpu = backend_cpu_ns(pid), time.process_time_ns()
            requests(phase, args.block)
            cpu, pg = time.process_time_ns() - cpu, backend_cpu_ns(pid) - pg
            if backend_pid() != pid:
                raise SystemExit("the PostgreSQL backend changed mid-run: set DB_CONN_MAX_AGE higher")
            if any(not s.startswith("200") for s in statuses):
                raise SystemExit(f"{phase}: not 200: {sorted(set(statuses))}")
            per_request[phase].append((cpu / args.block / 1000, pg / args.block / 1000))
    for phase, figures in per_request.items():
        python, postgres = (statistics.median(f[i] for f in figures) for i in (0, 1))
        print(
            f"{phase:13} µs per request: python {python:7.1f}  postgres {postgres:6.1f}  total {python + postgres:7.1f}"
        )
    totals = {phase: [py + pg for py, pg in figures] for phase, figures in per_request.items()}
    ratios = [t / b for t, b in zip(totals[TRIVIAL], totals[endpoint], strict=True)]
    extras = [b - t for t, b in zip(totals[TRIVIAL], totals[endpoint], strict=True)]
    print(
        f"trivial / {endpoint}, per round: median {statistics.median(ratios):.3f} "
        f"(rounds {', '.join(f'{r:.2f}' for r in ratios)}); {endpoint} costs {statistics.median(extras):.0f} µs more"
    )


if __name__ == "__main__":
    main()
