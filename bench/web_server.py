"""gunicorn as the Procfile runs it (gthread workers), for the servers the benches and the
tests start: one command line and one readiness probe, so that both measure and test the
application served the way production serves it. Each caller runs the process its own way
(bench/stack.py's Child, tests/conftest.py's WebServer)."""

import sys
import urllib.request

HOST = "127.0.0.1"


def gunicorn_command(
    *, port: int, workers: int, threads: int, timeout: int = 60, graceful_timeout: int = 5, backlog: int | None = None
) -> list[str]:
    """The command line of gunicorn serving adplatform on HOST:port (no access log)."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "adplatform.wsgi:application",
        "--bind",
        f"{HOST}:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        str(timeout),
        "--graceful-timeout",
        str(graceful_timeout),
    ]
    if backlog is not None:
        command += ["--backlog", str(backlog)]
    return command


def healthz_ok(base_url: str) -> bool:
    """Whether the server at base_url answers /healthz with 200 (False while it is starting)."""
    try:
        with urllib.request.urlopen(base_url + "/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False
