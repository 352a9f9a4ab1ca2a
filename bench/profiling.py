"""Where a consumer's time goes: py-spy samples of the running Celery workers, and a probe
that runs the intake and projection tasks in this process with every SQL statement and
every pipeline stage timed."""

import re
import shutil
import sys
import time
from collections import Counter, defaultdict
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import mock

from .stack import Child, Stack

# Frames of our own code, for the inclusive-time view of a profile.
PROJECT_PACKAGES = ("ads_write/", "ads_read/", "audit/", "adplatform/")


# --- py-spy ----------------------------------------------------------------------------------
def pyspy_start(stack: Stack, *, pid: int, seconds: float, name: str) -> tuple[Child, Path] | None:
    """Sample the process `pid` and its children (a Celery worker and its pool) for
    `seconds`, as collapsed stacks. None (with a note) where py-spy is not installed."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        print("NOTE: py-spy is not installed (make bench-setup): no worker profile", flush=True)
        return None
    output = stack.run_dir / f"{name}.txt"
    child = stack.start(
        name,
        [
            pyspy,
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "100",
            "--format",
            "raw",
            "--output",
            str(output),
            "--nonblocking",
        ],
        env={},
    )
    return child, output


@contextmanager
def pyspy_profile(stack: Stack, *, pid: int, seconds: float, name: str):
    """py-spy the process `pid` (and its children) for the first `seconds` of the block (0:
    not at all); the dict it yields receives the summary when the block ends."""
    summary = {}
    started = pyspy_start(stack, pid=pid, seconds=seconds, name=name) if seconds > 0 else None
    yield summary
    if started:
        child, output = started
        child.process.wait()
        summary.update(pyspy_summary(output))


def pyspy_summary(path: Path, *, top: int = 15) -> dict:
    """From py-spy's collapsed stacks: the functions with the most samples on top of the
    stack (self) and, among our own code, the most samples anywhere in it (inclusive)."""
    self_time, inclusive = Counter(), Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        count = int(count)
        total += count
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        self_time[frames[-1]] += count
        for frame in set(frames):
            if any(p in frame for p in PROJECT_PACKAGES):
                inclusive[frame] += count

    def share(counter):
        return [{"function": f, "share": round(c / total, 4)} for f, c in counter.most_common(top)] if total else []

    return {"samples": total, "self": share(self_time), "inclusive_own_code": share(inclusive)}


def print_profile(profile: dict, *, what: str) -> None:
    from .report import table

    print(
        f"\nprofile of the {what} (py-spy, {profile['samples']} wall-clock samples of busy threads; "
        "time waiting on a socket counts); self time:"
    )
    print(table(["function", "share"], [[p["function"][:110], p["share"]] for p in profile["self"]]))
    print("our code, inclusive:")
    print(table(["function", "share"], [[p["function"][:110], p["share"]] for p in profile["inclusive_own_code"]]))


def _frame(raw: str) -> str:
    # "function (path/to/file.py:123)" -> "function (package/file.py)"
    match = re.match(r"(?P<function>.*?) \((?P<file>[^:()]*)(:\d+)?\)$", raw.strip())
    if not match:
        return raw.strip()
    parts = Path(match["file"]).parts
    return f"{match['function']} ({'/'.join(parts[-2:])})"


# --- the in-process probe ----------------------------------------------------------------------
# Functions whose time is measured (inclusive; nested ones are inside their callers).
STAGES = (
    ("ads_write.services.submissions", "submissions_store"),
    # Ads no one stored yet (direct mode): judged, then written once with their verdicts.
    ("ads_write.services.submissions", "submissions_store_judged"),
    # The audit writes of both the store and the verdicts, counted as one stage.
    ("ads_write.services.submissions", "audit_record_many"),
    ("ads_write.services.verdicts", "audit_record_many"),
    ("ads_write.services.submissions", "evaluate_many"),
    ("ads_write.services.submissions", "ads_record_verdicts"),
    ("ads_write.services.submissions", "verdicts_insert"),
    ("ads_read.tasks", "ads_project"),
    # The ads the intake consumer stored, projected in its task (ads_write/tasks.py).
    ("ads_write.tasks", "ads_project_judged"),
    ("ads_read.projections", "_upsert_newer"),
)


def _shape(sql: str) -> str:
    """A statement with its literal lists collapsed, to group the same statement."""
    sql = re.sub(r"\s+", " ", sql)
    copy = re.match(r'COPY "(copy_)?(\w+?)(_\d+)?" ', sql)
    if copy:  # by table; kernel/bulk.py's staged copies go to temporary tables named apart
        return f"COPY {copy[2]}" + (" (staged)" if copy[1] else "")
    sql = re.sub(r'"copy_(\w+?)_\d+"', r'"copy_\1"', sql)  # kernel/bulk.py's temporary tables
    sql = re.sub(r"\((%s, )*%s\)(, \((%s, )*%s\))+", "(…), …", sql)
    sql = re.sub(r"(%s, )+%s", "…", sql)
    return sql[:140]


@contextmanager
def statements_timed():
    """Time every SQL statement on the default connection, grouped by shape (kernel/bulk.py's
    COPYs included: they pass through the execute wrappers too)."""
    from django.db import connection

    stats = defaultdict(lambda: {"count": 0, "seconds": 0.0})

    def timed(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = stats[_shape(sql)]
            entry["count"] += 1
            entry["seconds"] += time.perf_counter() - start

    with connection.execute_wrapper(timed):
        yield stats


@contextmanager
def stages_timed():
    """Time the pipeline's stage functions (those of STAGES that exist in this tree)."""
    import importlib

    stats = defaultdict(lambda: {"calls": 0, "seconds": 0.0})

    def timing(name, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                stats[name]["calls"] += 1
                stats[name]["seconds"] += time.perf_counter() - start

        return wrapper

    with ExitStack() as patches:
        for module_name, attribute in STAGES:
            module = importlib.import_module(module_name)
            if hasattr(module, attribute):
                patches.enter_context(
                    mock.patch.object(module, attribute, timing(attribute, getattr(module, attribute)))
                )
        yield stats


def pipeline_probe(*, caller, ads: list[dict], ads_per_submit: int) -> dict:
    """Run the real intake path (`ads_submit`, direct mode, `ads_per_submit` ads a call: 1 is
    the single-ad API, more is a batch split into INTAKE_MESSAGE_SIZE messages) with its
    publish captured, then the intake consumer on the captured messages (it projects the ads
    it stores itself: ads_project_judged) and the projection consumer on those it publishes,
    here, with each stage and each SQL statement timed. Returns the figures per ad."""
    from adplatform.kernel.events import PROJECT_ADS_TASK
    from ads_read.tasks import project_ads_task
    from ads_write import tasks
    from ads_write.services import intake
    from ads_write.services.events import PROCESS_SUBMISSIONS_TASK
    from ads_write.tasks import process_submissions_task

    published = defaultdict(list)

    def capture(*, task_name, payload):
        published[task_name].append(payload)

    def capture_many(*, task_name, payloads):
        published[task_name].extend(payloads)

    # No shared broker pipeline: every message then goes through publish_tasks, captured here.
    with (
        mock.patch.object(tasks, "publish_task", capture),
        mock.patch.object(intake, "publish_tasks", capture_many),
        mock.patch.object(intake, "broker_pipeline", lambda: None),
    ):
        for start in range(0, len(ads), ads_per_submit):
            intake.ads_submit(caller=caller, ads=ads[start : start + ads_per_submit], mode="direct")
        intake_messages = published.pop(PROCESS_SUBMISSIONS_TASK)
        with stages_timed() as stages, statements_timed() as intake_sql:
            start = time.perf_counter()
            for payload in intake_messages:
                process_submissions_task(payload)
            intake_seconds = time.perf_counter() - start
        projection_messages = published.pop(PROJECT_ADS_TASK, [])
        with stages_timed() as projection_stages, statements_timed() as projection_sql:
            start = time.perf_counter()
            for ids in projection_messages:
                project_ads_task(ids)
            projection_seconds = time.perf_counter() - start

    count = len(ads)

    def per_ad(stats):
        rows = [
            {
                "what": name,
                **{k: v for k, v in entry.items() if k != "seconds"},
                "ms_per_ad": round(1000 * entry["seconds"] / count, 4),
            }
            for name, entry in stats.items()
        ]
        return sorted(rows, key=lambda r: -r["ms_per_ad"])

    intake_sql_seconds = sum(e["seconds"] for e in intake_sql.values())
    projection_sql_seconds = sum(e["seconds"] for e in projection_sql.values())
    return {
        "ads": count,
        "intake_messages": len(intake_messages),
        "intake_ms_per_ad": round(1000 * intake_seconds / count, 4),
        "intake_sql_ms_per_ad": round(1000 * intake_sql_seconds / count, 4),
        "projection_ms_per_ad": round(1000 * projection_seconds / count, 4),
        "projection_sql_ms_per_ad": round(1000 * projection_sql_seconds / count, 4),
        "stages": per_ad({**stages, **projection_stages}),
        "intake_statements": per_ad(intake_sql),
        "projection_statements": per_ad(projection_sql),
    }
