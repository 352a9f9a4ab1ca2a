"""Batch intake on the request path: ads/s accepted by POST /api/v1/ads/batch in `direct` mode
with 1,000-ad batches, in one process through Django's test client (the full middleware,
auth, rate limit, validation, publish and pending-marker path; no HTTP server or client
in the figure), and optionally a profile of it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> REDIS_URL=redis://127.0.0.1:6379/<n> \\
        SECRET_KEY=... AUDIT_HMAC_KEYS=bench=... WEBHOOK_SECRET_KEYS=bench=... .venv/bin/python bench/batch_intake_profile.py [--batches 20] [--runs 5] [--profile out.html]

It migrates the database, makes a retailer `bench-batch-intake` with a rate limit that never
bites (the limiter still runs), and prints each run's ads/s and their median, both of wall-clock
time and per CPU-second of this process (the second is steadier on a shared machine; Redis's own
time is not in it). Use a scratch
Redis db with no workers on it: at the end it takes its messages off the intake queue and
deletes its pending markers. --profile needs pyinstrument (pip install pyinstrument).

--memory instead prints, for one request each, the peak of what Python allocated (tracemalloc)
as a multiple of the body: the hostile bodies at the batch body limit (bench/batch_memory.py;
the bound is 4 ×) and one batch of 1,000 valid ads. A few seconds; no rate figures.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adplatform.settings")
os.environ["AD_INTAKE_MODE"] = "direct"
# No consumer runs, so the queue's oldest message ages through the runs: admission control's
# bound out of reach (its check still runs on every request), or the shipped 5 s would shed.
os.environ.setdefault("INTAKE_MAX_LAG", "3600")

import django  # noqa: E402

django.setup()

import msgspec  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from adplatform.kernel.models import Retailer  # noqa: E402
from adplatform.kernel.redis_client import redis_client  # noqa: E402
from adplatform.kernel.services import api_key_create  # noqa: E402
from ads_read.pending import pending_key  # noqa: E402
from bench.batch_memory import hostile_bodies, peak_of_request, valid_body  # noqa: E402

BATCH_SIZE = 1000


def batch_body() -> bytes:
    """1,000 valid ads, each a little different, as a client would send them."""
    return valid_body(BATCH_SIZE)


def run(client: Client, body: bytes, batches: int, accepted_ids: list) -> tuple[float, float]:
    """(ads/s of wall-clock time, ads per CPU-second of this process)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(batches):
        response = client.post("/api/v1/ads/batch", body, content_type="application/json")
        if response.status_code != 202:
            raise SystemExit(f"batch answered {response.status_code}: {response.content[:500]!r}")
        accepted_ids += [r["id"] for r in msgspec.json.decode(response.content)["results"]]
    ads = batches * BATCH_SIZE
    return ads / (time.perf_counter() - started), ads / (time.process_time() - cpu_started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20, help="batches per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", help="write a pyinstrument profile of one more run here (.html or .txt)")
    parser.add_argument("--memory", action="store_true", help="peak memory per request instead of rates")
    args = parser.parse_args()
    redis = redis_client()
    if redis is None:
        raise SystemExit("Set REDIS_URL (a scratch db): direct mode publishes to the broker.")

    call_command("migrate", verbosity=0)
    retailer, _ = Retailer.objects.get_or_create(name="bench-batch-intake", defaults={"rate_limit_per_minute": 10**9})
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key_create(retailer=retailer, label='bench')}")
    body = batch_body()
    queue_before = redis.llen("intake")
    accepted_ids: list = []
    try:
        run(client, body, 2, accepted_ids)  # warm-up: imports, connections, caches
        if args.memory:
            return memory(client, body, accepted_ids)
        rates = [run(client, body, args.batches, accepted_ids) for _ in range(args.runs)]
        for number, (wall, cpu) in enumerate(rates, 1):
            print(f"run {number}: {wall:,.0f} ads/s, {cpu:,.0f} ads per CPU-second")
        print(
            f"median of {args.runs} runs ({args.batches} batches of {BATCH_SIZE}): "
            f"{statistics.median(w for w, _ in rates):,.0f} ads/s, "
            f"{statistics.median(c for _, c in rates):,.0f} ads per CPU-second of the web process"
        )
        if args.profile:
            from pyinstrument import Profiler

            with Profiler(interval=0.0005) as profiler:
                run(client, body, args.batches, accepted_ids)
            output = profiler.output_html() if args.profile.endswith(".html") else profiler.output_text(unicode=True)
            Path(args.profile).write_text(output)
            print(f"profile written to {args.profile}")
    finally:
        # Messages are LPUSHed, so ours are the newest, at the head of the list.
        added = redis.llen("intake") - queue_before
        if added > 0:
            redis.ltrim("intake", added, -1)
        for start in range(0, len(accepted_ids), 10_000):
            redis.delete(*[pending_key(ad_id) for ad_id in accepted_ids[start : start + 10_000]])


def memory(client: Client, valid: bytes, accepted_ids: list) -> None:
    from django.conf import settings

    limits = {"max_ads": settings.API_MAX_BATCH_SIZE, "max_ad_bytes": settings.API_MAX_BODY_BYTES}
    shapes = {**hostile_bodies(settings.API_MAX_BATCH_BODY_BYTES, **limits), "1,000 valid ads": valid}
    for shape, body in shapes.items():
        response, peak = peak_of_request(client, body)
        if response.status_code == 202:
            accepted_ids += [r["id"] for r in msgspec.json.decode(response.content)["results"]]
        print(
            f"{shape}: body {len(body) / 2**20:.2f} MiB, answer {response.status_code}, "
            f"peak {peak / 2**20:.1f} MiB = {peak / len(body):.1f} × the body"
        )


if __name__ == "__main__":
    main()
