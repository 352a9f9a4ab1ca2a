"""`python -m bench changes`: what a change of an ad costs against a new submission, side by
side in one run, in process (the services the API and the consumers call; no HTTP, no
broker), on a fresh bench database.

For `--ads` ads, three phases, each timed per ad, submission and change interleaved so that
both see the same machine:
- request path (cqrs): `ads_submit` against `ad_change` (the write, its audit entry and its
  outbox row; the publish after commit is left out, the broker being another bench's);
- consumer: judging and projecting the ad (`submissions_process` + `ads_project`) against
  judging and projecting the change (`changes_judge` + `ads_project`);
- whole path (sync): the linear path of each, request and consumer in one.
Prints the median and p95 per ad of each and their ratio; writes bench/results/changes-*.json."""

import statistics
import time

from .fixtures import ad_payloads, bench_retailer, validated
from .report import machine_info, print_machine, results_write, run_dir, table
from .stack import DATABASE, Stack, app_env, database_drop, database_fresh, django_setup, redis_for


def add_arguments(parser) -> None:
    parser.add_argument("--ads", type=int, default=300, help="ads submitted and changed per phase (default 300)")
    parser.add_argument(
        "--redis-url", help="use this Redis database (flushed at the start and the end) instead of a private one"
    )


def run(args) -> dict:
    folder = run_dir("changes")
    with Stack(folder) as stack:
        redis_url = redis_for(stack, args.redis_url)
        stack.callback(database_drop, DATABASE)
        env = app_env(run_dir=folder, database_url=database_fresh(DATABASE, run_dir=folder), redis_url=redis_url)
        django_setup(env)
        machine = machine_info(redis_url=redis_url)
        print_machine(machine)
        phases = measure(ads=args.ads)
        rows = [
            [
                name,
                f["submit_ms"]["median"],
                f["change_ms"]["median"],
                f["submit_ms"]["p95"],
                f["change_ms"]["p95"],
                f["ratio"],
            ]
            for name, f in phases.items()
        ]
        print(table(["phase", "submit ms", "change ms", "submit p95", "change p95", "change / submit"], rows))
        path = results_write(folder, {"machine": machine, "config": vars(args), "phases": phases})
        print(f"\nresults: {path}")
    return phases


def measure(*, ads: int) -> dict:
    """The three phases' figures ({phase: {submit_ms, change_ms, ratio}}), on the configured
    database: also what the bench smoke test runs with a handful of ads."""
    from adplatform.kernel.auth import Caller
    from adplatform.kernel.redis_client import redis_client
    from ads_read.projections import ads_project
    from ads_write.services.changes import changes_judge
    from ads_write.services.commands import ad_change
    from ads_write.services.intake import ads_submit
    from ads_write.services.submissions import submissions_process

    retailer, _ = bench_retailer()
    caller = Caller(retailer=retailer, key_prefix="bench")
    bodies = validated(ad_payloads(ads))
    timings = {
        phase: {"submit": [], "change": []} for phase in ("request path (cqrs)", "consumer", "whole path (sync)")
    }

    def timed(phase, kind, action):
        started = time.perf_counter()
        result = action()
        timings[phase][kind].append((time.perf_counter() - started) * 1000)
        return result

    def pair(phase, *, mode, body, patch, version, ad_id=None):
        # A submission, then a change (of `ad_id`, else of the ad just submitted), both timed.
        [accepted] = timed(phase, "submit", lambda: ads_submit(caller=caller, ads=[body], mode=mode))
        ad_id = ad_id or accepted.id
        timed(phase, "change", lambda: ad_change(caller=caller, ad_id=ad_id, patch=patch, if_match=version, mode=mode))
        return accepted

    # Each ad: submitted and judged (v2), changed in sync mode (v3, judged v4), changed in cqrs
    # mode (v5), that change judged by the consumer (v6).
    for n, body in enumerate(bodies):
        judged = pair(
            "whole path (sync)", mode="sync", body=body, patch={"description": f"Changed once, {n}."}, version=2
        )
        queued = pair(
            "request path (cqrs)",
            mode="cqrs",
            body=body,
            patch={"description": f"Changed twice, {n}."},
            version=4,
            ad_id=judged.id,
        )
        event = _stored_event(queued.id)
        timed("consumer", "submit", lambda e=event: ads_project(ad_ids=submissions_process(events=[e]).ids))
        timed("consumer", "change", lambda a=judged: ads_project(ad_ids=changes_judge(ad_ids=[a.id])))
        # The consumers are the ones above: nothing may wait in the queues (admission control
        # would refuse intake once the oldest message is INTAKE_MAX_LAG old).
        redis_client().delete("intake", "projections")
    return {phase: _figures(t["submit"], t["change"]) for phase, t in timings.items()}


def _stored_event(ad_id):
    # What the cqrs consumer gets: the ad's intake event, as reconciliation rebuilds it.
    from ads_write.models import Ad
    from ads_write.services.events import replayed_submitted_event

    return replayed_submitted_event(Ad.objects.get(id=ad_id), actor="bench")


def _figures(submit: list, change: list) -> dict:
    def spread(values):
        ordered = sorted(values)
        return {
            "median": round(statistics.median(ordered), 3),
            "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        }

    submit_ms, change_ms = spread(submit), spread(change)
    return {
        "submit_ms": submit_ms,
        "change_ms": change_ms,
        "ratio": round(change_ms["median"] / submit_ms["median"], 2) if submit_ms["median"] else None,
    }
