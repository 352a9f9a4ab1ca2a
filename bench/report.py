"""What every bench prints and writes: the machine it ran on, progress, tables, and a JSON
file (plus charts) in bench/results/."""

import json
import os
import platform
import shutil
import statistics
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DAY = 86_400


def progress(**kwargs):
    """A tqdm bar, shown on a terminal only (disable=None) so that logs of a run stay
    readable. Imported here: the suite imports bench modules without the bench extras."""
    from tqdm import tqdm

    return tqdm(leave=False, dynamic_ncols=True, disable=None, **kwargs)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(*, redis_url: str | None = None) -> dict:
    from .stack import postgres_version, redis_version

    def version(package):
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    wrk = shutil.which("wrk")
    info = {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "django": version("Django"),
        "djangorestframework": version("djangorestframework"),
        "celery": version("celery"),
        "kombu": version("kombu"),
        "gunicorn": version("gunicorn"),
        "psycopg": version("psycopg"),
        "postgresql": postgres_version(),
        "redis": redis_version(redis_url) if redis_url else None,
        "wrk": subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout.split("[")[0].strip()
        if wrk
        else None,
    }
    return info


def print_machine(info: dict) -> None:
    print(
        f"machine: {info['cores']} cores, {info['cpu_model']}, load average {info['load_average']}\n"
        f"         Python {info['python']}, Django {info['django']}, DRF {info['djangorestframework']}, "
        f"Celery {info['celery']}, gunicorn {info['gunicorn']}, PostgreSQL {info['postgresql']}, "
        f"Redis {info['redis']}, {info['wrk'] or 'no wrk'}",
        flush=True,
    )


def run_dir(name: str) -> Path:
    """The folder of one run's logs and generated scripts: bench/results/<name>-<stamp>/."""
    path = RESULTS_DIR / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_write(folder: Path, data: dict) -> Path:
    """The run's figures beside its folder (<name>-<stamp>.json), copied to <name>-latest.json."""
    name = folder.name.rsplit("-", 1)[0]
    data = {"bench": name, "finished_at": datetime.now(UTC).isoformat(), "logs": str(folder), **data}
    text = json.dumps(data, indent=2, default=str)
    path = folder.with_suffix(".json")
    path.write_text(text)
    (RESULTS_DIR / f"{name}-latest.json").write_text(text)
    return path


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}" if value >= 1 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
