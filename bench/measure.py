"""What the pipeline did, read from the database: how many ads reached a final state, when,
and how long after they were accepted (the bench's clock and PostgreSQL's are the same
machine's)."""

import os
import re
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime

import psycopg
from django.db import connection

from .report import progress

LAG_PERCENTILES = (0.5, 0.9, 0.99)


def _tables():
    from ads_read.models import AdView
    from ads_write.models import Ad

    return Ad._meta.db_table, AdView._meta.db_table


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def shed_ads_total(base_url: str) -> float:
    """Ads the web processes of this host refused with 503 intake-overloaded (admission
    control), from their /metrics (the bench runs on 127.0.0.1, an allowed network)."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "adplatform_intake_shed_ads_total"
    )


def final_count() -> int:
    """Ads whose final state a reader sees (their read row is no longer pending)."""
    _, view = _tables()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {view} WHERE status <> 'pending'")
        return cursor.fetchone()[0]


def judged_count() -> int:
    """Ads with a verdict on the write side (may not be projected yet)."""
    ad, _ = _tables()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {ad} WHERE status <> 'pending'")
        return cursor.fetchone()[0]


def wait_final(target: int, *, timeout: float, desc: str, interval: float = 0.5) -> list[tuple[float, int, int]]:
    """Poll until `target` ads are final or `timeout` passes (or nothing moved for a third of
    it). Returns the samples (epoch, judged, final) for rates and charts."""
    samples = []
    start = time.time()
    last_change, last = start, -1
    with progress(total=target, desc=f"{desc:<24}", unit="ad") as bar:
        while True:
            now, judged, final = time.time(), judged_count(), final_count()
            samples.append((now, judged, final))
            bar.n = min(final, target)
            bar.refresh()
            if final != last:
                last_change, last = now, final
            if final >= target or now - start > timeout or now - last_change > max(10.0, timeout / 3):
                return samples
            time.sleep(interval)


def lag_stats(*, since: float, until: float) -> dict:
    """For the ads accepted between `since` and `until`: how many are final, how many of
    them became final by `until`, the lag from acceptance to verdict and to the read
    row (seconds, percentiles) and the final-status mix."""
    ad, view = _tables()
    percentiles = "ARRAY[" + ", ".join(str(p) for p in LAG_PERCENTILES) + "]"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*),
                   count(*) FILTER (WHERE v.projected_at <= %s),
                   percentile_cont({percentiles}) WITHIN GROUP (ORDER BY extract(epoch FROM v.projected_at - v.submitted_at)),
                   max(extract(epoch FROM v.projected_at - v.submitted_at)),
                   percentile_cont({percentiles}) WITHIN GROUP (ORDER BY extract(epoch FROM a.reviewed_at - a.submitted_at)),
                   min(v.projected_at), max(v.projected_at)
            FROM {view} v JOIN {ad} a ON a.id = v.id
            WHERE v.status <> 'pending' AND v.submitted_at >= %s AND v.submitted_at <= %s
            """,
            [_at(until), _at(since), _at(until)],
        )
        final, final_in_window, to_read, to_read_max, to_verdict, first, last = cursor.fetchone()
        cursor.execute(
            f"SELECT status, count(*) FROM {view} WHERE submitted_at >= %s AND submitted_at <= %s GROUP BY status",
            [_at(since), _at(until)],
        )
        mix = dict(cursor.fetchall())
        # Lag by the 5 s window of acceptance: a stall shows as a window whose lag jumps.
        cursor.execute(
            f"""
            SELECT floor(extract(epoch FROM v.submitted_at - %s) / 5) * 5 AS window,
                   count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM v.projected_at - v.submitted_at)),
                   max(extract(epoch FROM v.projected_at - v.submitted_at))
            FROM {view} v
            WHERE v.status <> 'pending' AND v.submitted_at >= %s AND v.submitted_at <= %s
            GROUP BY 1 ORDER BY 1
            """,
            [_at(since), _at(since), _at(until)],
        )
        timeline = [
            {"from_s": int(window), "ads": count, "lag_p50_s": round(p50, 3), "lag_max_s": round(worst, 3)}
            for window, count, p50, worst in cursor.fetchall()
        ]

    def named(values):
        return (
            {f"p{round(p * 100)}": round(v, 4) for p, v in zip(LAG_PERCENTILES, values, strict=True)}
            if values
            else None
        )

    return {
        "final": final,
        "final_in_window": final_in_window,
        "lag_to_read_s": {**named(to_read), "max": round(to_read_max, 4)} if to_read else None,
        "lag_to_verdict_s": named(to_verdict),
        "first_final_at": first.timestamp() if first else None,
        "last_final_at": last.timestamp() if last else None,
        "status_mix": mix,
        "lag_timeline": timeline,
    }


def steady_throughput(*, load_since: float, since: float, until: float) -> dict:
    """Ads accepted and ads completed (final to a reader) in the same window, `since` to
    `until`, of a load that began at `load_since`. Starting the window after the pipeline has
    filled measures what the consumers carry against what the API takes: a backlog that grows
    shows as completed below accepted, while the fixed lag of a pipeline that keeps up (the
    external call alone is 864 ms) does not, as it does when completions are counted from the
    load's first second."""
    _, view = _tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*) FILTER (WHERE submitted_at >= %s),
                   count(*) FILTER (WHERE status <> 'pending' AND projected_at >= %s AND projected_at <= %s)
            FROM {view} WHERE submitted_at >= %s AND submitted_at <= %s
            """,
            [_at(since), _at(since), _at(until), _at(load_since), _at(until)],
        )
        accepted, completed = cursor.fetchone()
    seconds = until - since
    return {
        "from_s": round(since - load_since, 1),
        "seconds": round(seconds, 1),
        "accepted": accepted,
        "completed": completed,
        "accepted_per_s": round(accepted / seconds, 2) if seconds > 0 else 0.0,
        "completed_per_s": round(completed / seconds, 2) if seconds > 0 else 0.0,
        "completed_share": round(completed / accepted, 3) if accepted else None,
    }


def server_housekeeping() -> dict:
    """PostgreSQL's own background work so far: checkpoints, and autovacuum and autoanalyze
    runs on our tables. Two snapshots bracket a phase, to tell a stall of ours from the
    server's."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT checkpoints_timed + checkpoints_req, buffers_checkpoint FROM pg_stat_bgwriter")
        checkpoints, buffers = cursor.fetchone()
        cursor.execute(
            "SELECT coalesce(sum(autovacuum_count), 0), coalesce(sum(autoanalyze_count), 0) FROM pg_stat_user_tables"
        )
        autovacuums, autoanalyzes = cursor.fetchone()
    return {
        "checkpoints": checkpoints,
        "checkpoint_buffers": buffers,
        "autovacuums": int(autovacuums),
        "autoanalyzes": int(autoanalyzes),
    }


def housekeeping_between(before: dict, after: dict) -> dict:
    return {key: after[key] - before[key] for key in before}


PARTS = ("publisher", "worker main", "worker pool", "postgresql", "redis")


def cpu_snapshot(*, worker_pids: list[int]) -> dict:
    """CPU seconds used so far by each process of the stack, from /proc: this process (the
    publisher), the Celery workers' main processes and their pools, PostgreSQL's processes and
    Redis; the whole machine's, and what the hypervisor stole. Two snapshots bracket a phase (`cpu_between`)."""
    tick = os.sysconf("SC_CLK_TCK")
    processes = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        pid = int(entry.name)
        command, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
        parent = int(fields[1])
        part = (
            "publisher"
            if pid == os.getpid()
            else "worker main"
            if pid in worker_pids
            else "worker pool"
            if parent in worker_pids
            else "postgresql"
            if command == "postgres"
            else "redis"
            if command.startswith("redis-server")
            else None
        )
        if part:
            processes[pid] = (part, (int(fields[11]) + int(fields[12])) / tick)
    with open("/proc/stat") as machine:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in machine.readline().split()[1:9])
    # Steal is CPU the hypervisor gave to other guests: not ours, but what a noisy run lacked.
    return {"processes": processes, "machine": (user + nice + system + irq + softirq) / tick, "stolen": steal / tick}


def cpu_by_process(before: dict, after: dict) -> dict[int, tuple[str, float]]:
    """{pid: (part, CPU seconds used between the two snapshots)} of each process alive at the
    second (all of its CPU for one that started in between)."""
    used = {}
    for pid, (part, seconds) in after["processes"].items():
        earlier = before["processes"].get(pid)
        used[pid] = (part, seconds - (earlier[1] if earlier and earlier[0] == part else 0.0))
    return used


def cpu_between(before: dict, after: dict, *, ads: int) -> dict:
    """CPU milliseconds per ad of each part between two snapshots. A process that ended in
    between took its CPU with it: the parts are lower bounds, the machine's is whole."""
    used = dict.fromkeys(PARTS, 0.0)
    for part, seconds in cpu_by_process(before, after).values():
        used[part] += seconds
    used["machine"] = after["machine"] - before["machine"]
    used["stolen"] = after["stolen"] - before["stolen"]
    return {part: round(1000 * seconds / ads, 3) for part, seconds in used.items()}


_TASK_LINE = re.compile(r"Task (?P<name>[\w.]+)\[[^\]]+\] succeeded in (?P<seconds>[0-9.e-]+)s: (?P<result>\d+)")
# The batching intake consumer's own line per batch (ads_write/tasks.py): celery-batches logs
# no task line, and the ads it stores it projects in the same task.
_BATCH_LINE = re.compile(r"judged (?P<result>\d+) ads of (?P<messages>\d+) messages in (?P<seconds>[0-9.e-]+) s")
_BATCH_TASK = "process_submissions_batch_task"


def task_costs(log_text: str) -> dict:
    """Per task type, from a Celery worker's INFO log: messages, their total and mean time,
    the ads they carried (the task's return value) and the time per ad."""
    totals = defaultdict(lambda: {"messages": 0, "seconds": 0.0, "ads": 0})
    for match in _TASK_LINE.finditer(log_text):
        entry = totals[match["name"].rsplit(".", 1)[-1]]
        entry["messages"] += 1
        entry["seconds"] += float(match["seconds"])
        entry["ads"] += int(match["result"])
    for match in _BATCH_LINE.finditer(log_text):
        entry = totals[_BATCH_TASK]
        entry["messages"] += int(match["messages"])
        entry["seconds"] += float(match["seconds"])
        entry["ads"] += int(match["result"])
    return {
        name: {
            **entry,
            "seconds": round(entry["seconds"], 3),
            "ms_per_message": round(1000 * entry["seconds"] / entry["messages"], 3),
            "ms_per_ad": round(1000 * entry["seconds"] / entry["ads"], 4) if entry["ads"] else None,
        }
        for name, entry in totals.items()
    }


class LockWaiters:
    """While its block runs, samples (in a thread, on a connection of its own) how many
    sessions of the database are active and how many of them wait on an advisory lock —
    the audit chain's, which every audited transaction holds until it commits."""

    QUERY = (
        "SELECT count(*) FILTER (WHERE state = 'active'), "
        "count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'advisory') "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )

    def __init__(self, database_url: str, *, interval: float = 0.25):
        self.database_url = database_url
        self.interval = interval
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()

    def _run(self):
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self._stop.wait(self.interval):
                self.samples.append(conn.execute(self.QUERY).fetchone())

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        if not self.samples:
            return {"samples": 0, "active_mean": None, "advisory_waiting_mean": None, "advisory_waiting_max": None}
        return {
            "samples": len(self.samples),
            "active_mean": round(sum(a for a, _ in self.samples) / len(self.samples), 2),
            "advisory_waiting_mean": round(sum(w for _, w in self.samples) / len(self.samples), 2),
            "advisory_waiting_max": max(w for _, w in self.samples),
        }
