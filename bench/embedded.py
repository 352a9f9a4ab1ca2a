"""`python -m bench embedded`: `make run` as a new user meets it, and how long 1,200 ads take.

A fresh clone of this repository (the committed HEAD, or `--ref`) in a temporary folder, its
`make run` on a spare port with no DATABASE_URL / REDIS_URL in the environment: the embedded
default, whatever it is at that commit (the Makefile makes the virtualenv, installs, migrates,
seeds, starts the Procfile). Once /healthz answers, a batch of 1,000 ads and then 200 single
ads are submitted with the demo retailer's key, one request at a time, and the clone's read
table (SQLite) is polled until all 1,200 are final. The figure is the time from the first
request to the last ad final, against the goal of 15 s (issue 20); every ad is then read back
by id through the API. `make run` is stopped as Ctrl-C would, and the clone removed.

`--ref ed25631` measures the commit before the embedded Redis (the folder broker), for the
figure before the change; `--here` runs this checkout as it is (its virtualenv, uncommitted
changes included, a temporary data folder) for a quicker look."""

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from .api_client import post_until_admitted
from .fixtures import ad_payloads
from .report import machine_info, print_machine, results_write, run_dir, table
from .stack import HOST, ROOT, BenchError, free_port, git, say

GOAL_SECONDS = 15.0
BATCH_ADS, SINGLE_ADS = 1000, 200
FINAL = ("approved", "rejected", "needs_review")
# What would point `make run` at servers or at another run's folders instead of its defaults.
SERVER_SETTINGS = (
    "DATABASE_URL",
    "READ_DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_BROKER_WRITE_URL",
    "PROMETHEUS_MULTIPROC_DIR",
    "ADPLATFORM_DATA_DIR",
    "ADPLATFORM_ENV_FILE",
    "AD_INTAKE_MODE",
    "EMBEDDED_REDIS",
    "VIRTUAL_ENV",
)


def add_arguments(parser) -> None:
    parser.add_argument("--ref", default="HEAD", help="the commit to clone and run (default HEAD, committed work only)")
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds to wait for the 1,200 ads to be final (default 600)"
    )
    parser.add_argument(
        "--setup-timeout", type=float, default=600, help="seconds for make run to set up and answer (default 600)"
    )
    parser.add_argument(
        "--here", action="store_true", help="run this checkout (its .venv) with a temporary data folder, no clone"
    )
    parser.add_argument("--keep", action="store_true", help="keep the clone (its .data and .venv) after the run")


def run(args) -> dict:
    folder = run_dir("embedded")
    machine = machine_info()
    print_machine(machine)
    commit = git("rev-parse", args.ref).strip() if not args.here else "working tree"
    clone = Path(tempfile.mkdtemp(prefix="adplatform-embedded-"))
    try:
        figures = _run_clone(args, clone=clone, commit=commit, folder=folder)
    finally:
        if args.keep:
            say(f"kept the clone in {clone}")
        else:
            subprocess.run(["rm", "-rf", str(clone)], check=False)
    _print(figures)
    if switches := {k: v for k, v in _switches().items() if v is not None}:
        print("environment: " + ", ".join(f"{k}={v}" for k, v in switches.items()))
    data = {"machine": machine, "config": vars(args), "commit": commit, "environment": _switches(), **figures}
    print(f"\nresults: {results_write(folder, data)}")
    return data


def _switches() -> dict:
    """The settings this run took from the environment that change the pipeline's speed."""
    return {name: os.environ.get(name) for name in ("INTAKE_BATCHING", "WORKER_PREFETCH", "WORKER_CONCURRENCY")}


def _run_clone(args, *, clone: Path, commit: str, folder: Path) -> dict:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name not in SERVER_SETTINGS}
    # The embedded Redis of the clone on a spare port too (ignored by commits without one).
    env.update(PORT=str(port), EMBEDDED_REDIS_PORT=str(free_port()))
    if args.here:  # this checkout, its data in the temporary folder
        data, cwd = clone / ".data", ROOT
        env["ADPLATFORM_DATA_DIR"] = str(data)
    else:
        say(f"cloning {commit[:10]} into {clone} ...")
        git("clone", "--quiet", "--no-checkout", str(ROOT), str(clone))
        git("checkout", "--quiet", "--detach", commit, cwd=clone)
        data, cwd = clone / ".data", clone
    log_path = folder / "make-run.log"
    started = time.time()
    with open(log_path, "wb") as log:
        make = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            say(f"make run (port {port}): virtualenv, install, migrate, seed, Procfile ...")
            key = _wait_ready(make, log_path=log_path, port=port, timeout=args.setup_timeout)
            setup_seconds = time.time() - started
            say(
                f"answering after {setup_seconds:.0f}s; submitting {BATCH_ADS} ads in a batch and {SINGLE_ADS} single ads"
            )
            figures = _submit_and_wait(
                args, database=data / "adplatform.sqlite3", port=port, key=key, make=make, log_path=log_path
            )
        finally:
            _stop(make)
    figures["setup_seconds"] = round(setup_seconds, 1)
    figures["log"] = str(log_path)
    return figures


def _tail(log_path: Path, chars: int = 3000) -> str:
    return log_path.read_text(errors="replace")[-chars:]


def _wait_ready(make: subprocess.Popen, *, log_path: Path, port: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if make.poll() is not None:
            raise BenchError(f"make run exited with code {make.returncode}\n{_tail(log_path)}")
        key = re.search(r"API key: (\S+)", log_path.read_text(errors="replace"))
        with contextlib.suppress(requests.RequestException):
            if key and requests.get(f"http://{HOST}:{port}/healthz", timeout=2).status_code == 200:
                return key.group(1)
        time.sleep(0.5)
    raise BenchError(f"make run did not answer within {timeout:.0f}s\n{_tail(log_path)}")


def _final_count(database: Path) -> int:
    """Ads whose read row is final: what a client reading them by id sees."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
        try:
            marks = ",".join("?" * len(FINAL))
            return db.execute(f"SELECT count(*) FROM ads_read_adview WHERE status IN ({marks})", FINAL).fetchone()[0]
        except sqlite3.OperationalError:  # locked for longer than the timeout: look again
            return -1


def _submit_and_wait(args, *, database: Path, port: int, key: str, make, log_path: Path) -> dict:
    url = f"http://{HOST}:{port}/api/v1/ads"
    payloads = ad_payloads(BATCH_ADS + SINGLE_ADS)
    shed = []

    def submit(session, path: str, body: dict, *, what: str) -> dict:
        # A request shed by admission control is sent again after its Retry-After: the time
        # counts, and the sheds are reported.
        answer = post_until_admitted(session, f"{url}{path}", body, timeout=120, shed=shed)
        if answer.status_code != 202:
            raise BenchError(f"{what} answered {answer.status_code}: {answer.text[:500]}")
        return answer.json()

    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {key}"
        first_request = time.time()
        ids = [item["id"] for item in submit(session, "/batch", {"ads": payloads[:BATCH_ADS]}, what="batch")["results"]]
        batch_accepted = time.time()
        ids += [submit(session, "", payload, what="single ad")["id"] for payload in payloads[BATCH_ADS:]]
        all_accepted = time.time()
        say(f"accepted {len(ids)} ads in {all_accepted - first_request:.1f}s; waiting for them to be final")

        samples, final, last_final_at = [], 0, None
        deadline = first_request + args.timeout
        while time.time() < deadline:
            if make.poll() is not None:
                raise BenchError(f"make run exited with code {make.returncode}\n{_tail(log_path)}")
            count = _final_count(database)
            now = time.time()
            samples.append((round(now - first_request, 2), count))
            if count > final:
                final, last_final_at = count, now
            if final >= len(ids):
                break
            time.sleep(0.2)
        # Every ad read back by id, as a client would.
        statuses = {}
        for ad_id in ids:
            status = session.get(f"{url}/{ad_id}", timeout=30).json().get("status")
            statuses[status] = statuses.get(status, 0) + 1
    all_final = final >= len(ids)
    seconds = round(last_final_at - first_request, 2) if all_final else None
    return {
        "ads": len(ids),
        "accepted_seconds": round(all_accepted - first_request, 2),
        "batch_accepted_seconds": round(batch_accepted - first_request, 2),
        # Requests refused by admission control and sent again after Retry-After.
        "shed_requests": len(shed),
        "final": final,
        "time_to_final_seconds": seconds,
        "timed_out_after_seconds": None if all_final else args.timeout,
        "goal_seconds": GOAL_SECONDS,
        "goal_met": bool(all_final and seconds <= GOAL_SECONDS),
        "statuses_via_api": statuses,
        "samples": samples,
    }


def _stop(make: subprocess.Popen) -> None:
    """Ctrl-C, as a user stops `make run`; then SIGTERM and SIGKILL for what is left."""
    for sig, wait in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        if make.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(make.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            make.wait(wait)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(make.pid, signal.SIGKILL)  # anything of the group still alive


def _print(figures: dict) -> None:
    print()
    print(
        table(
            ["ads", "accepted in (s)", "shed, sent again", "final", "time to final (s)", "setup (s)", "statuses (API)"],
            [
                [
                    figures["ads"],
                    figures["accepted_seconds"],
                    figures.get("shed_requests", 0),
                    figures["final"],
                    figures["time_to_final_seconds"],
                    figures["setup_seconds"],
                    ", ".join(f"{k} {v}" for k, v in sorted(figures["statuses_via_api"].items(), key=str)),
                ]
            ],
        )
    )
    took = (
        f"{figures['time_to_final_seconds']:.1f} s"
        if figures["time_to_final_seconds"] is not None
        else f"not within {figures['timed_out_after_seconds']:.0f} s ({figures['final']} final)"
    )
    verdict = "MET" if figures["goal_met"] else "MISSED"
    print(f"\n{figures['ads']:,} ads final {took} after the first request (goal <= {GOAL_SECONDS:.0f} s): {verdict}")
