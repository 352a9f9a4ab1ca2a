"""`manage.py rebuild_read_model` at scale: seed a scratch PostgreSQL database with N ads on the
write side (verdicts and findings; bench/admin_scale.py's seeding, without its audit chain),
then rebuild the whole read table through the projection and print ads/s. Not part of the
test suite; it loads one core for a few minutes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/adplatform_rebuild REDIS_URL=redis://127.0.0.1:6379/N \\
        .venv/bin/python bench/rebuild.py --ads 1000000 [--batch-size 1000]

Seeding refuses a database that already holds ads (--measure-only rebuilds what is there).
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adplatform.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from ads_read.models import AdView  # noqa: E402
from ads_read.rebuild import read_model_rebuild  # noqa: E402
from bench.admin_scale import seeded_database  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--measure-only", action="store_true")
    args = parser.parse_args()
    seeded_database(ads=args.ads, measure_only=args.measure_only, chain=False)
    for run, label in ((1, "empty read table"), (2, "every row already there, same version")):
        if run == 1:
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {AdView._meta.db_table}")
        started = time.perf_counter()
        result = read_model_rebuild(batch_size=args.batch_size, restart=True)
        seconds = time.perf_counter() - started
        print(
            f"rebuild, {label}: {result.projected:,} ads in {seconds:.0f} s = {result.projected / seconds:,.0f} ads/s "
            f"(batch {args.batch_size})",
            flush=True,
        )


if __name__ == "__main__":
    main()
