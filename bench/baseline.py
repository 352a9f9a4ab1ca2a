"""The code an issue was measured on, run on this machine beside ours: a goal stated as a
factor over "today's" figure (issue 20: drain >= 2 × the batched drain) compares two runs of
the same minutes on the same machine, not our run against a figure from another VM (the same
code drained 1,262 ads/s on one 2-core VM and 3,061 on another: bench/HISTORY.md).

The commit's tree is exported (`git archive`, no worktree left registered) to a folder under
the system's temp directory with a virtualenv of its own pins (its `make bench-setup`), kept for
the next run; its own bench runs there and its results JSON is read back."""

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from .stack import ROOT, TEMPLATE_DATABASE, BenchError, database_drop, git, say

# Issue 20 was filed on the code of this commit (the 'speed' branch started from it); its
# batched drain was the issue's 2,408 ads/s on a quiet 2-core VM.
ISSUE_20_REF = "ed25631"


def checkout(ref: str) -> Path:
    """The tree of `ref` with its virtualenv set up, in a folder kept across runs."""
    commit = git("rev-parse", "--verify", f"{ref}^{{commit}}").strip()
    folder = Path(tempfile.gettempdir()) / f"adplatform-baseline-{commit[:12]}"
    if not (folder / "manage.py").exists():
        say(f"exporting {commit[:12]} to {folder} ...")
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    if not (folder / ".venv" / ".installed-bench").exists():
        say(f"installing {commit[:12]}'s requirements (make bench-setup) ...")
        done = subprocess.run(["make", "-C", str(folder), "bench-setup"], capture_output=True, text=True)
        if done.returncode:
            raise BenchError(f"make bench-setup of {commit[:12]} failed:\n{done.stderr[-2000:]}")
    return folder


def baseline_pipeline_drain(*, ref: str, ads: int, log: Path) -> dict:
    """`ref`'s own `bench pipeline --batching` on `ads` ads, drain only (no steady phase, no
    probe), with its default worker: the issue's "today's batched drain". Returns its drain
    figures and where its log went."""
    folder = checkout(ref)
    # Its migrations are older than ours: a template database migrated by either side would
    # pass the other's `migrate --check` with the wrong schema, so each side builds its own.
    database_drop(TEMPLATE_DATABASE)
    command = [
        str(folder / ".venv" / "bin" / "python"),
        "-m",
        "bench",
        "pipeline",
        "--batching",
        "--ads",
        str(ads),
        "--rate",
        "0",
        "--probe-ads",
        "0",
    ]
    say(f"baseline: {ref}'s bench pipeline --batching --ads {ads:,} (log {log}) ...")
    started = time.time()
    try:
        with log.open("w") as out:
            done = subprocess.run(command, cwd=folder, stdout=out, stderr=subprocess.STDOUT, env=_clean_env())
    finally:
        database_drop(TEMPLATE_DATABASE)
    if done.returncode:
        raise BenchError(f"the baseline's bench pipeline failed (exit {done.returncode}); see {log}")
    latest = folder / "bench" / "results" / "pipeline-latest.json"
    if not latest.exists() or latest.stat().st_mtime < started:
        raise BenchError(f"the baseline's bench pipeline wrote no new figures ({latest}); see {log}")
    figures = json.loads(latest.read_text())
    drain = figures["drain"]
    return {
        "ref": ref,
        "commit": git("rev-parse", "--short=12", f"{ref}^{{commit}}").strip(),
        "command": " ".join(["python", *command[1:]]),
        "ads": drain["ads"],
        "final": drain["final"],
        "final_ads_per_s": drain["final_ads_per_s"],
        "log": str(log),
    }


def _clean_env() -> dict:
    """This process's environment without the settings of ours the baseline's bench would
    read as its own (it sets its children's database, Redis and keys itself)."""
    ours = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV", "PYTHONPATH")
    return {key: value for key, value in os.environ.items() if key not in ours}
