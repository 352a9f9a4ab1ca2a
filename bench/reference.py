"""The reference run: every bench on the shipped defaults, one after another, its figures kept
in the tree (bench/reference/, committed) so that a newcomer has figures to check against and
a chart to look at. Run it on a quiet machine, with nothing else running.

    python -m bench reference                 # every bench, default flags (about 40 minutes)
    python -m bench reference --benches read  # one of them, the others' reference files kept
    python -m bench reference --quick         # short durations: a smoke run, not a reference

Each bench's JSON goes to bench/reference/<bench>.json (its chart, if it draws one, beside it as
.png), and bench/reference/README.md lists the machine, the exact command and every goal line
(MET / MISSED) of each bench."""

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from .report import RESULTS_DIR

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
BENCHES = ("modes", "intake", "pipeline", "read", "embedded")
# Short flags for a smoke run of the tool itself; a reference run uses the defaults only.
QUICK = {
    "modes": ["--duration", "3", "--latency-scale", "0.1"],
    "intake": ["--duration", "2", "--rounds", "1"],
    "pipeline": ["--ads", "5000", "--rate", "50", "--steady-duration", "5"],
    "read": ["--rows", "100000", "--duration", "3", "--rounds", "1"],
    "embedded": [],
}


def add_arguments(parser) -> None:
    parser.add_argument(
        "--benches", default=",".join(BENCHES), help=f"comma-separated, default {','.join(BENCHES)} (in that order)"
    )
    parser.add_argument("--quick", action="store_true", help="short durations: checks the tool, not a reference")


def run(args) -> None:
    names = [name.strip() for name in args.benches.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        raise SystemExit(f"unknown bench(es): {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    REFERENCE_DIR.mkdir(exist_ok=True)
    for name in names:
        argv = QUICK[name] if args.quick else []
        print(f"\n=== bench {name} {' '.join(argv)}".rstrip(), flush=True)
        started = datetime.now(UTC)
        _bench_run(name, argv)
        _keep(name, argv=argv, started=started, quick=args.quick)
    index = reference_index_write()
    print(f"\nreference: {index}")


def _bench_run(name: str, argv: list[str]) -> None:
    # Each bench in a process of its own: a bench sets up Django once, on its own database and
    # Redis, and drops them when it ends, so the next one in this process would find its
    # connections closed under it.
    subprocess.run([sys.executable, "-m", "bench", name, *argv], check=True)


def _keep(name: str, *, argv: list[str], started: datetime, quick: bool) -> None:
    """Copy the run's figures (and chart) into bench/reference/, with the command that made them."""
    latest = RESULTS_DIR / f"{name}-latest.json"
    data = json.loads(latest.read_text())
    finished = datetime.fromisoformat(data["finished_at"])
    if finished < started:
        raise SystemExit(f"bench {name} wrote no new figures ({latest} is from {finished:%Y-%m-%d %H:%M} UTC)")
    data["reference"] = {"command": " ".join(["python -m bench", name, *argv]), "quick": quick}
    data.pop("logs", None)  # a path on the machine that ran it, not in the tree
    (REFERENCE_DIR / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    chart = _chart_since(name, started)
    target = REFERENCE_DIR / f"{name}.png"
    if chart:
        shutil.copyfile(chart, target)
    elif target.exists():
        target.unlink()  # a chart of an older run would not match these figures


def _chart_since(name: str, started: datetime) -> Path | None:
    """The chart this run drew (bench/results/<name>-<stamp>.png), if it drew one."""
    charts = [p for p in RESULTS_DIR.glob(f"{name}-*.png") if p.stat().st_mtime >= started.timestamp()]
    return max(charts, key=lambda p: p.stat().st_mtime) if charts else None


def goal_lines(data, path: str = "") -> list[tuple[str, bool | None]]:
    """Every `goal…met` flag in a bench's figures, by where it sits: (path, True/False/None)."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else key
            if key.startswith("goal") and key.endswith("met") and (value is None or isinstance(value, bool)):
                found.append((where, value))
            else:
                found += goal_lines(value, where)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += goal_lines(value, f"{path}[{_row_label(value) or index}]")
    return found


def _row_label(row) -> str | None:
    """A summary row's name in the goals table: its mode, endpoint or name, and the
    validator's latency where rows repeat per latency (bench modes)."""
    if not isinstance(row, dict):
        return None
    label = row.get("mode") or row.get("name") or row.get("endpoint")
    if label and row.get("latency_ms") is not None:
        label = f"{label} @ {row['latency_ms']:g} ms"
    return label


def reference_index_write() -> Path:
    lines = [
        "# Reference runs",
        "",
        "Written by `python -m bench reference` (bench/reference.py); see bench/README.md for what",
        "each bench does and what its columns mean. One run per bench, on the shipped defaults.",
        "",
    ]
    for name in BENCHES:
        path = REFERENCE_DIR / f"{name}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        machine = data.get("machine") or {}
        reference = data.get("reference") or {}
        lines += [
            f"## {name}",
            "",
            f"- command: `{reference.get('command', '?')}`"
            + (" (quick: a smoke run, not a reference)" if reference.get("quick") else ""),
            f"- finished: {data.get('finished_at', '?')}",
            f"- machine: {machine.get('cores', '?')} cores, {machine.get('cpu_model', '?')}, "
            f"load average at the start {machine.get('load_average', '?')}; PostgreSQL {machine.get('postgresql', '?')}, "
            f"Redis {machine.get('redis', '?')}",
        ]
        if (REFERENCE_DIR / f"{name}.png").exists():
            lines.append(f"- chart: [{name}.png]({name}.png)")
        goals = goal_lines(data)
        if goals:
            lines += ["", "| goal | result |", "|---|---|"]
            verdict = {True: "MET", False: "MISSED", None: "not judged"}
            lines += [f"| `{where}` | {verdict[met]} |" for where, met in goals]
        lines.append("")
    index = REFERENCE_DIR / "README.md"
    index.write_text("\n".join(lines))
    return index
