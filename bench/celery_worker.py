"""The Celery worker as the Procfile runs it (prefork, the settings' prefetch, INFO logs with a
'succeeded in' line per task), for the workers the benches and the tests start: one command
line, as bench/web_server.py is for gunicorn. Each caller runs the process its own way
(bench/stack.py's Child, tests/conftest.py's WorkerProcess)."""

import sys


def celery_command(*args: str) -> list[str]:
    """`celery -A adplatform <args>` with this interpreter."""
    return [sys.executable, "-m", "celery", "-A", "adplatform", *args]


def worker_arguments(*, queues: str, concurrency: int, name: str, prefetch: int | None = None) -> list[str]:
    """`worker` and its options: `queues` comma-separated, `name` its node name (unique per
    process, or Celery warns of a clash), `prefetch` None for the settings' WORKER_PREFETCH.
    Without mingle and gossip: the workers a bench or a test starts need nothing of the others."""
    return [
        "worker",
        "-Q",
        queues,
        "-c",
        str(concurrency),
        *(["--prefetch-multiplier", str(prefetch)] if prefetch is not None else []),
        "--loglevel",
        "INFO",
        "-n",
        name,
        "--without-mingle",
        "--without-gossip",
    ]
