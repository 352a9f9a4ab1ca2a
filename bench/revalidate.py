"""`manage.py revalidate` at scale: seed a scratch PostgreSQL database with N ads on the write
side (bench/admin_scale.py's seeding, without its audit chain), then judge every live approved
ad again three times through `ads_revalidate`, the command's service, and print ads/s:

1. with the current ruleset: the seeding approved ads of every category, so the ones the
   policy would not approve (regulated categories without a licence, say) change;
2. the same again: every ad is judged and none changes (the cost of a review that finds
   nothing, and the command's idempotence);
3. with that ruleset plus 500 blocked domains, which 1 in 10 of the seeded ads link to.

Each change is a new verdict version, an audit entry, and the projection published through
the outbox as in production (no worker runs here, so it stays queued).

Not part of the test suite; it loads one core for minutes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/adplatform_revalidate REDIS_URL=redis://127.0.0.1:6379/N \\
        SECRET_KEY=... AUDIT_HMAC_KEYS=bench=... .venv/bin/python bench/revalidate.py --ads 1000000

Seeding refuses a database that already holds ads (--measure-only judges what is there).
"""

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adplatform.settings")

import django  # noqa: E402

django.setup()

from ads_write.services.revalidation import ads_revalidate  # noqa: E402
from ads_write.validation.ruleset import DEFAULT_RULESET, compile_ruleset  # noqa: E402
from bench.admin_scale import seeded_database  # noqa: E402
from bench.report import RESULTS_DIR, machine_info, print_machine  # noqa: E402

# The seeding links ad i to https://shop-(i % 5000).example: blocking 500 of those hosts
# rejects 1 in 10 ads.
BLOCKED_SHOPS = 500


def stricter_ruleset():
    data = json.loads(Path(DEFAULT_RULESET).read_text())
    stricter = copy.deepcopy(data)
    stricter["version"] = f"{data['version']}-bench-stricter"
    stricter["fraud"]["blocked_domains"] += [f"shop-{i}.example" for i in range(BLOCKED_SHOPS)]
    return compile_ruleset(data), compile_ruleset(stricter)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--measure-only", action="store_true")
    args = parser.parse_args()
    machine = machine_info()
    print_machine(machine)
    seeded_database(ads=args.ads, measure_only=args.measure_only, chain=False)
    passes = []
    current, stricter = stricter_ruleset()
    labels = ("current ruleset", "current ruleset again", "stricter ruleset")
    for label, ruleset in zip(labels, (current, current, stricter), strict=True):
        started = time.perf_counter()
        result = ads_revalidate(ruleset=ruleset, batch_size=args.batch_size)
        seconds = time.perf_counter() - started
        figures = {
            "pass": label,
            "ruleset": result.ruleset_version,
            "judged": result.checked,
            "changed": dict(result.changed),
            "seconds": round(seconds, 1),
            "ads_per_s": round(result.checked / seconds, 1) if seconds else None,
        }
        passes.append(figures)
        print(
            f"revalidate, {label}: judged {result.checked:,} live approved ads in {seconds:.0f} s = "
            f"{figures['ads_per_s']:,} ads/s; changed {dict(result.changed) or 'none'} (batch {args.batch_size})",
            flush=True,
        )
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / "revalidate-latest.json"
    path.write_text(
        json.dumps({"bench": "revalidate", "machine": machine, "ads": args.ads, "passes": passes}, indent=2)
    )
    print(f"figures: {path}")


if __name__ == "__main__":
    main()
