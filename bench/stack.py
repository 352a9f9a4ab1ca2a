"""The stack a bench runs: its own database, Redis, gunicorn, Celery workers and the external
validator. Each is a child process in its own process group, bound to 127.0.0.1, and stopped
(the whole group) when the bench leaves its `Stack`, however it leaves."""

import argparse
import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

from bench.celery_worker import celery_command, worker_arguments
from bench.web_server import HOST, gunicorn_command, healthz_ok

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The PostgreSQL server (without a database name) the benches create their databases on.
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
# Each run its own database, dropped when it ends: two benches at once must not drop and
# recreate each other's (one did, and the other's API key vanished: every request a 401).
DATABASE = f"adplatform_bench_{os.getpid()}"
TEMPLATE_DATABASE = "adplatform_bench_template"


def procfile_pipeline_workers() -> int:
    """How many Celery workers the Procfile runs on the pipeline queues (each its own main
    process and pool of WORKER_CONCURRENCY): the benches start as many."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return sum(1 for line in lines if re.match(r"\w+:.*celery .* worker .*-Q intake", line))


def procfile_defaults() -> dict[str, int]:
    """The counts the Procfile runs with when the environment sets none (`${NAME:-N}`):
    WEB_CONCURRENCY, WEB_THREADS, WORKER_CONCURRENCY. The benches measure the shipped
    defaults unless told otherwise."""
    return {name: int(value) for name, value in re.findall(r"\$\{(\w+):-(\d+)\}", (ROOT / "Procfile").read_text())}


def batching_argument(parser) -> None:
    """--batching / --no-batching; neither: the settings' default (INTAKE_BATCHING, on)."""
    parser.add_argument(
        "--batching",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="INTAKE_BATCHING on or off (default: the settings' default, on)",
    )


def batching_env(batching: bool | None) -> dict:
    return {} if batching is None else {"INTAKE_BATCHING": str(batching).lower()}


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class BenchError(RuntimeError):
    """A bench cannot run (a missing tool, a child that died); the message says why."""


def git(*args: str, cwd: Path = ROOT) -> str:
    """`git <args>` in `cwd` (this repository by default); its output, or BenchError with git's."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise BenchError(f"git {' '.join(args)} failed in {cwd}:\n{done.stderr.strip()}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, what: str, child: "Child | None" = None, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None:
            child.check()
        if predicate():
            return
        time.sleep(interval)
    raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}" + (f"\n{child.tail()}" if child else ""))


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


class Child:
    """A process in a session (and process group) of its own, logging to a file."""

    def __init__(self, name: str, argv: list[str], *, env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def check(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"{self.name} exited with code {self.process.returncode}\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the group, SIGKILL it after `timeout`; also kills children left behind
        by a leader that exited (e.g. Celery pool processes)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()
        self._log.close()


class Stack(contextlib.ExitStack):
    """Children started through it are stopped, last first, when the `with` block ends."""

    def __init__(self, run_dir: Path):
        super().__init__()
        self.run_dir = run_dir

    def start(self, name: str, argv: list[str], *, env: dict) -> Child:
        child = Child(name, argv, env=env, log_dir=self.run_dir)
        self.callback(child.stop)
        return child


# --- PostgreSQL ---------------------------------------------------------------------------
def database_url(name: str) -> str:
    return f"{POSTGRES_URL}/{name}"


def _admin_connection():
    # Fail with a message rather than hang when another session holds what we wait for.
    return psycopg.connect(
        database_url("postgres"),
        autocommit=True,
        connect_timeout=5,
        options="-c lock_timeout=30s -c statement_timeout=120s",
    )


def database_exists(name: str) -> bool:
    with _admin_connection() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def database_drop(name: str) -> None:
    with _admin_connection() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_create(name: str, *, template: str | None = None) -> None:
    with _admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def manage(*args: str, database: str, run_dir: Path) -> subprocess.CompletedProcess:
    env = {**base_env(run_dir), "DATABASE_URL": database_url(database)}
    env.pop("REDIS_URL", None)
    return subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def database_migrated(name: str, *, run_dir: Path) -> None:
    """Create `name` if absent and apply the migrations."""
    if not database_exists(name):
        database_create(name)
    done = manage("migrate", "--noinput", database=name, run_dir=run_dir)
    if done.returncode:
        raise BenchError(f"migrate {name} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")


def database_fresh(name: str, *, run_dir: Path) -> str:
    """An empty, migrated database `name` (dropped first if it exists), cloned from a migrated
    template database so that each mode of a run starts clean in a second. Returns its URL."""
    say(f"database {name} (a clone of {TEMPLATE_DATABASE}) ...")
    if (
        not database_exists(TEMPLATE_DATABASE)
        or manage("migrate", "--check", database=TEMPLATE_DATABASE, run_dir=run_dir).returncode
    ):
        say(f"migrating {TEMPLATE_DATABASE} ...")
        database_drop(TEMPLATE_DATABASE)
        database_migrated(TEMPLATE_DATABASE, run_dir=run_dir)
    database_drop(name)
    database_create(name, template=TEMPLATE_DATABASE)
    return database_url(name)


def postgres_version() -> str:
    with _admin_connection() as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


# --- Redis --------------------------------------------------------------------------------
def redis_start(stack: Stack) -> str:
    """A redis-server of the bench's own on a spare port (no persistence): isolated from the
    shared one and emptied by its end. Returns its URL."""
    if shutil.which("redis-server") is None:
        raise BenchError("redis-server is not installed (apt-get install redis-server), or pass --redis-url")
    port = free_port()
    child = stack.start(
        "redis",
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(stack.run_dir),
        ],
        env=dict(os.environ),
    )
    wait_until(lambda: port_open(port), timeout=20, what="redis-server", child=child)
    return f"redis://{HOST}:{port}/0"


def redis_for(stack: Stack, url: str | None) -> str:
    """The bench's Redis: a private redis-server, or `url` — flushed now and again when the
    bench ends, so give it a database of its own. Returns its URL."""
    if not url:
        return redis_start(stack)
    redis_flush(url)
    stack.callback(redis_flush, url)  # runs after the processes registered later are stopped
    return url


def redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def broker_argument(parser) -> None:
    """`--broker`: the Celery broker of the bench's processes (the bench's Redis by default)."""
    parser.add_argument(
        "--broker",
        metavar="URL",
        help="Celery broker, e.g. amqp://guest:guest@127.0.0.1:5672/VHOST (quorum queues, publisher "
        "confirms; give the bench a vhost of its own: its queues are purged); default: the bench's Redis. "
        "Run once per broker and compare the results' `broker` side by side",
    )


def broker_env(url: str | None) -> dict:
    """The settings that select `url` as the broker, its queues purged now (Redis's go with the flush)."""
    if not url:
        return {}
    broker_purge(url)
    return {"CELERY_BROKER_URL": url}


def broker_purge(url: str) -> None:
    from kombu import Connection

    from adplatform.kernel.queues import task_queues

    with Connection(url) as connection:
        for queue in task_queues(url):
            bound = queue(connection.default_channel)
            bound.declare()
            bound.purge()


def redis_version(url: str) -> str:
    import redis

    return redis.Redis.from_url(url).info("server")["redis_version"]


# --- the application's processes ------------------------------------------------------------
def base_env(run_dir: Path) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "adplatform.settings", "PYTHONUNBUFFERED": "1"}
    env["ADPLATFORM_DATA_DIR"] = str(run_dir / "data")
    env.setdefault("LOG_LEVEL", "WARNING")
    # On PostgreSQL the settings require these secrets (README, Running in production).
    env.setdefault("SECRET_KEY", "bench-only-secret-key-never-use-in-production")
    env.setdefault("AUDIT_HMAC_KEYS", "bench=bench-only-audit-hmac-key-never-use-in-production")
    env.setdefault("WEBHOOK_SECRET_KEYS", "bench=bench-only-webhook-secret-key-never-use-in-production")
    # The benches read the web processes' /metrics (shed ads); its allow-list is empty by default.
    env.setdefault("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128")
    for name in ("READ_DATABASE_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    return env


def app_env(*, run_dir: Path, database_url: str, redis_url: str, **settings) -> dict:
    """Environment of the web and worker processes (and of the bench's own Django)."""
    return {
        **base_env(run_dir),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        **{k: str(v) for k, v in settings.items()},
    }


def django_setup(env: dict) -> None:
    """Point this process's Django at the bench database and Redis (once per process)."""
    import django

    os.environ.update(env)
    django.setup()


def web_arguments(parser) -> None:
    """--web-workers and --web-threads, defaulting to the shipped defaults: the Procfile's web
    processes and threads (issue 20), not a tuned profile."""
    procfile = procfile_defaults()
    workers, threads = procfile["WEB_CONCURRENCY"], procfile["WEB_THREADS"]
    parser.add_argument(
        "--web-workers", type=int, default=workers, help=f"gunicorn processes (default {workers}, the Procfile's)"
    )
    parser.add_argument(
        "--web-threads",
        type=int,
        default=threads,
        help=f"threads per gunicorn process (default {threads}, the Procfile's)",
    )


def web_start(stack: Stack, *, env: dict, workers: int, threads: int, name: str = "web") -> tuple[str, Child]:
    """gunicorn with gthread workers, as the Procfile runs it (without the access log).
    Returns its base URL (once /healthz answers) and the process."""
    say(f"starting {name}: gunicorn {workers} × {threads} gthread ...")
    port = free_port()
    child = stack.start(
        name,
        gunicorn_command(port=port, workers=workers, threads=threads, timeout=120, backlog=2048),
        env=env,
    )
    base_url = f"http://{HOST}:{port}"
    wait_until(lambda: healthz_ok(base_url), timeout=90, what="gunicorn /healthz", child=child, interval=0.3)
    return base_url, child


def worker_start(
    stack: Stack,
    *,
    env: dict,
    concurrency: int,
    queues: str | None = None,
    name: str = "worker",
    instances: int | None = None,
) -> list[Child]:
    """The Celery workers (prefork, `concurrency` processes each) as the Procfile runs them:
    `instances` of them, by default the Procfile's pipeline workers. INFO logs carry one
    'succeeded in <s>' line per task: the per-stage cost is read from them. Their prefetch is
    the settings' (WORKER_PREFETCH, from INTAKE_BATCHING in `env`), as the Procfile's workers
    have it. `queues` (comma-separated) defaults to all of the app's: read from
    adplatform.celery here, not at import, so that it is imported only after django_setup."""
    if queues is None:
        from adplatform.celery import QUEUES

        queues = ",".join(QUEUES)
    instances = procfile_pipeline_workers() if instances is None else instances
    say(f"starting {name}: {instances} × celery -c {concurrency} -Q {queues} (prefetch: WORKER_PREFETCH) ...")
    children = []
    for number in range(1, instances + 1):
        label = name if number == 1 else f"{name}-{number}"
        arguments = worker_arguments(
            queues=queues, concurrency=concurrency, name=f"bench-{label}-{uuid.uuid4().hex[:6]}@%h"
        )
        child = stack.start(label, celery_command(*arguments, "--without-heartbeat"), env={**env, "LOG_LEVEL": "INFO"})
        children.append(child)
    for child in children:
        wait_until(
            lambda child=child: " ready." in child.tail(20000),
            timeout=90,
            what=f"celery {child.name}",
            child=child,
            interval=0.3,
        )
    return children


def validator_start(stack: Stack, *, latency_ms: float, command: str | None = None) -> str:
    """The local "external validator" (bench/external_validator.py) with a set latency.
    `command` overrides how it is started: a template with {python}, {port}, {latency_ms}.
    Returns the URL to put in EXTERNAL_VALIDATOR_URL."""
    port = free_port()
    if command:
        argv = shlex.split(command.format(python=PYTHON, port=port, latency_ms=latency_ms))
    else:
        argv = [PYTHON, "-m", "bench.external_validator", "--port", str(port), "--latency-ms", str(latency_ms)]
    child = stack.start(f"validator-{port}", argv, env=dict(os.environ))
    wait_until(lambda: port_open(port), timeout=30, what="the external validator", child=child)
    return f"http://{HOST}:{port}/validate"


def wrk_ensure() -> str:
    """wrk (Debian's package); installed with apt-get when missing and we are root."""
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() != 0:
        raise BenchError("wrk is missing: sudo apt-get install -y wrk (or make bench-setup)")
    print("installing wrk (apt-get install -y wrk) ...", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet).returncode:
        subprocess.run(["apt-get", "update", "-qq"], **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, **quiet)
    return shutil.which("wrk") or "wrk"
