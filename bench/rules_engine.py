"""Throughput of the pure rules engine (detailed validation) on one core.

    .venv/bin/python -m bench.rules_engine [--ads 20000] [--runs 5] [--clean-share 0.8]

A realistic mix built from the labelled corpus (tests/data/ad_corpus.json): mostly clean ads,
the rest breaking one rule or several, with varied stateful facts; full ruleset, no external
validator, no I/O. Basic validation runs before timing; the timed loop is `evaluate` per ad,
as `evaluate_many` calls it. Prints the median ads/s of the runs and writes
bench/results/rules_engine.json.
"""

import argparse
import json
import os
import platform
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from ads_write.validation.basic import validate_basic
from ads_write.validation.engine import AdFacts, evaluate
from ads_write.validation.ruleset import current_ruleset

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "ad_corpus.json"
RESULTS = ROOT / "bench" / "results" / "rules_engine.json"
TARGET = 5000  # ads/s on one core


def workload(*, count: int, clean_share: float, seed: int = 2026) -> list[tuple[dict, AdFacts]]:
    corpus = json.loads(CORPUS.read_text(encoding="utf-8"))
    clean = [item for item in corpus if item["expected_status"] == "approved"]
    flagged = [item for item in corpus if item["expected_status"] != "approved"]
    rng = random.Random(seed)
    work = []
    for _ in range(count):
        item = rng.choice(clean if rng.random() < clean_share else flagged)
        basic = validate_basic(item["ad"])
        assert basic.ok, (item["name"], basic.errors)
        facts = AdFacts(
            retailer_name=item["retailer"],
            duplicate_elsewhere=rng.random() < 0.01,
            recent_submissions=rng.randint(1, 650),
        )
        work.append((basic.ad, facts))
    return work


def run_once(work, ruleset) -> float:
    started = time.perf_counter()
    for ad, facts in work:
        evaluate(ad, facts=facts, ruleset=ruleset)
    return len(work) / (time.perf_counter() - started)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description="Rules engine throughput on one core.")
    parser.add_argument("--ads", type=int, default=20000, help="ads per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clean-share", type=float, default=0.8)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    ruleset = current_ruleset()
    work = workload(count=args.ads, clean_share=args.clean_share)
    run_once(work[:1000], ruleset)  # warm-up: caches, compiled patterns
    rates = [run_once(work, ruleset) for _ in range(args.runs)]
    median = statistics.median(rates)
    result = {
        "benchmark": "rules_engine",
        "ads_per_second_median": round(median),
        "runs_ads_per_second": [round(r) for r in rates],
        "target_ads_per_second": TARGET,
        "meets_target": median >= TARGET,
        "ads_per_run": len(work),
        "clean_share": args.clean_share,
        "ruleset_version": ruleset.version,
        "cores": 1,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"rules engine: {median:,.0f} ads/s median of {args.runs} runs of {len(work):,} ads on one core "
        f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}; target {TARGET:,}) -> {args.output}"
    )
    return result


if __name__ == "__main__":
    main()
