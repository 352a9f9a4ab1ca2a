"""The fault-test harness. Every scenario runs the real platform — gunicorn, Celery workers
and beat as subprocesses — against Redis and PostgreSQL servers of its own on spare ports,
which it kills and restarts at will; then it checks through the read API and the database
that nothing was lost and nothing duplicated.

- PostgreSQL: one cluster per session (initdb is the slow part) holding a migrated template
  database with one retailer; each scenario works in a fresh clone of it. Run as the
  `postgres` OS user (initdb refuses root), with fsync off (speed: a crash here is a process
  crash, not a power cut) but synchronous_commit on: off, an immediate stop loses commits
  the consumers were told had happened (seen here: acknowledged ads that vanished).
- Redis: one server per scenario, with the persistence the README recommends for direct
  mode (AOF, appendfsync always, noeviction), so a SIGKILLed Redis comes back with every
  message it acknowledged.
- Short timings through the settings (visibility timeout, restore interval, retry backoff,
  sweep interval), so that redeliveries happen within seconds.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import pytest
import redis
import requests

from tests.brokers import PrivateRabbitMQ, Vhost
from tests.conftest import (
    FAULT_SCENARIOS,
    RECOVERY_TIMES,
    ROOT,
    WebServer,
    WorkerProcess,
    free_port,
    queued_tasks,
    wait_for,
    worker_env,
)
from tests.factories import ad_payload

PG_BIN = Path("/usr/lib/postgresql/15/bin")
REDIS_SERVER = "/usr/bin/redis-server"
ALL_QUEUES = "intake,projections,notifications,reports,maintenance"
# The lines of a process's log that Platform.logs shows from its whole length.
LOG_STORY = re.compile(r"ERROR|CRITICAL|Traceback|consumer: |Connection to broker")
FINAL = ("approved", "rejected", "needs_review")
TEMPLATE_DB = "faults_template"
RETAILER_NAME = "Fault Retailer"

# Settings for every process of a scenario: redelivery within seconds.
FAST_TIMINGS = {
    "BROKER_VISIBILITY_TIMEOUT": "10",  # a SIGKILLed worker's messages come back after this
    "BROKER_LEASE_RENEW_INTERVAL": "2",  # (a live worker's are renewed meanwhile)
    "BROKER_RESTORE_INTERVAL": "1",
    "CELERY_TASK_TIME_LIMIT": "8",
    "REPORT_SEND_TIME_LIMIT": "6",
    "REPORT_CLAIM_TIMEOUT": "7",
    "PIPELINE_RETRY_BACKOFF_MAX": "1",
    "OUTBOX_SWEEP_AFTER": "1",
    "OUTBOX_SWEEP_INTERVAL": "1",
    "RECONCILE_PENDING_AFTER": "3600",  # off unless a scenario tests it: it would hide losses
    # Scenarios accept ads with no consumer running on purpose (a worker killed, not started
    # yet): admission control stays on, with a bound those pauses never reach under load.
    "INTAKE_MAX_LAG": "600",
}

# The scenario running now: report() and report_recovery() put their rows on its test report
# (user_properties), which reaches the process that prints the tables under pytest-xdist too
# (tests/conftest.py, pytest_terminal_summary).
_running: dict = {}


@pytest.fixture(autouse=True)
def _scenario_node(request):
    _running["node"] = request.node
    yield
    _running.pop("node", None)


def report(*, scenario: str, submitted: int, final: int, lost: int, duplicated: int, recovery: str = "") -> None:
    """A row of the summary table printed at the end of the run (`recovery`: a measured time,
    reported, never asserted)."""
    _running["node"].user_properties.append((FAULT_SCENARIOS, (scenario, submitted, final, lost, duplicated, recovery)))


def report_recovery(*, scenario: str, broker: str, seconds: float, what: str) -> None:
    """A row of the recovery-time table printed at the end of the run (README's fault table)."""
    _running["node"].user_properties.append((RECOVERY_TIMES, (scenario, broker, f"{seconds:.1f}", what)))


# --- spare servers -------------------------------------------------------------------------
def _as_postgres(*command, **kwargs):
    """initdb refuses to run as root: as root, run the server tools as the postgres user."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *map(str, command)], check=True, **kwargs)


class SparePostgres:
    def __init__(self, root: Path):
        self.root = root
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        self.data = root / "data"
        self.port = free_port()
        self.create_cluster()

    def create_cluster(self):
        _as_postgres(
            PG_BIN / "initdb",
            "-D",
            self.data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
            stdout=subprocess.DEVNULL,
        )

    def start(self):
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        _as_postgres(
            PG_BIN / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.root / "postgres.log",
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
            stdout=subprocess.DEVNULL,
        )

    def stop(self, mode="fast"):
        """`immediate` is a crash: every backend is killed, recovery runs on the next start."""
        _as_postgres(
            PG_BIN / "pg_ctl",
            "-D",
            self.data,
            "-m",
            mode,
            "-w",
            "stop",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres"):
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True, connect_timeout=5
        )

    def platform_database(self, dbname: str, *, retailer: str, data_dir: Path) -> str:
        """A new database `dbname` on this server, migrated, with one retailer; its API key."""
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        env = worker_env(DATABASE_URL=self.url(dbname), REDIS_URL="", ADPLATFORM_DATA_DIR=str(data_dir))
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        created = subprocess.run(
            [sys.executable, "manage.py", "create_retailer", "--name", retailer],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        return created.stdout.strip().splitlines()[-1]

    def query(self, dbname: str, sql: str, params=()) -> list[tuple]:
        with self.connect(dbname) as conn:
            return conn.execute(sql, params).fetchall()

    def clone(self, name: str, template: str = TEMPLATE_DB):
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


class SpareRedis:
    def __init__(self, root: Path):
        self.dir = root
        self.port = free_port()
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
                "--logfile",
                str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self._ping, timeout=20, what=f"redis on port {self.port}", interval=0.05)

    def _ping(self) -> bool:
        try:
            return self.client().ping()
        except redis.ConnectionError:
            return False

    def kill(self):
        """SIGKILL: no shutdown, no final save; what survives is what the AOF holds."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(port=self.port, db=db, socket_timeout=5, socket_connect_timeout=2)


@pytest.fixture(scope="session")
def spare_postgres():
    """A PostgreSQL cluster for the fault scenarios, with the migrated template database
    and its retailer's API key (the clones share both)."""
    root = Path(tempfile.mkdtemp(prefix="adp-faults-pg-"))
    postgres = SparePostgres(root)
    try:
        postgres.start()
        with postgres.connect() as conn:
            conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        env = worker_env(DATABASE_URL=postgres.url(TEMPLATE_DB), REDIS_URL="", ADPLATFORM_DATA_DIR=str(root / "app"))
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        created = subprocess.run(
            [*manage, "create_retailer", "--name", RETAILER_NAME],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        postgres.api_key = created.stdout.strip().splitlines()[-1]
        yield postgres
    finally:
        try:
            postgres.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already down
        shutil.rmtree(root, ignore_errors=True)


# --- the platform's processes ---------------------------------------------------------------
class Platform:
    """One scenario's world: a database cloned from the template, a Redis, and whatever web,
    worker and beat processes the scenario starts (all stopped at the end)."""

    def __init__(self, *, postgres: SparePostgres, root: Path, name: str, broker: str = "redis"):
        """broker: "redis" (the scenario's Redis, the default), "amqp" (a vhost of its own on
        the local RabbitMQ) or "amqp-private" (a RabbitMQ node of its own, to kill). Redis
        is there in every case: markers, journal, limits and cache live in it."""
        self.postgres = postgres
        self.root = root
        self.db = name
        self.broker_kind = broker
        postgres.clone(name)
        redis_dir = root / "redis"
        redis_dir.mkdir()
        self.redis = SpareRedis(redis_dir)
        self.redis.start()
        self.vhost = self.rabbitmq = None
        if broker == "amqp":
            self.vhost = Vhost()
            self.broker_url = self.vhost.url
        elif broker == "amqp-private":
            self.rabbitmq = PrivateRabbitMQ()
            self.rabbitmq.start()
            self.broker_url = self.rabbitmq.url
        else:
            self.broker_url = self.redis.url()
        self.web = None
        self.workers: list[WorkerProcess] = []
        # Under every process's settings; a scenario on the shipped defaults empties it first.
        self.timings = dict(FAST_TIMINGS)
        self._worker_count = 0

    @property
    def broker_name(self) -> str:
        return "Redis" if self.broker_kind == "redis" else "RabbitMQ"

    def env(self, **overrides) -> dict:
        broker = {} if self.broker_kind == "redis" else {"CELERY_BROKER_URL": self.broker_url}
        return worker_env(
            **{
                "DATABASE_URL": self.postgres.url(self.db),
                "REDIS_URL": self.redis.url(),
                "ADPLATFORM_DATA_DIR": str(self.root / "app"),
                **broker,
                **self.timings,
                **overrides,
            }
        )

    def kill_broker(self) -> None:
        """SIGKILL the broker (Redis keeps what its AOF holds, RabbitMQ what its quorum
        queues confirmed)."""
        (self.rabbitmq or self.redis).kill()

    def start_broker(self) -> None:
        (self.rabbitmq or self.redis).start()

    def start_web(self, *, mode: str, **overrides) -> WebServer:
        self.web = WebServer(env=self.env(AD_INTAKE_MODE=mode, **overrides), log_path=self.root / "web.log")
        return self.web

    def start_worker(
        self,
        *,
        beat: bool = False,
        concurrency: int = 2,
        queues: str = ALL_QUEUES,
        wait=True,
        extra_args=(),
        **overrides,
    ) -> WorkerProcess:
        self._worker_count += 1
        name = f"worker{self._worker_count}"
        if beat:
            extra_args = [*extra_args, "-B", "-s", str(self.root / f"{name}-beat-schedule")]
        worker = WorkerProcess(
            env=self.env(**overrides),
            queues=queues,
            concurrency=concurrency,
            log_path=self.root / f"{name}.log",
            extra_args=extra_args,
        )
        self.workers.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    def manage(self, *args: str, **overrides) -> subprocess.CompletedProcess:
        """Run a management command against this world, as an operator would."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env(**overrides),
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def logs(self) -> str:
        """Each log's end, after the lines that tell its story from the start (errors,
        tracebacks, the consumer's connection notes): a worker's end may be a page of one
        repeated warning, after the traceback that explains it. Then where each live worker's
        main process is now (workers_stacks)."""
        parts = []
        for path in sorted(self.root.glob("*.log")):
            text = path.read_text(errors="replace")
            story = [line[:300] for line in text.splitlines() if LOG_STORY.search(line)][-40:]
            if story:
                parts.append(f"--- {path.name} (errors and connection notes) ---\n" + "\n".join(story))
            parts.append(f"--- {path.name} (end) ---\n{text[-2500:]}")
        if self.rabbitmq:
            parts.append(f"--- rabbitmq (end) ---\n{self.rabbitmq.logs()}")
        return "\n".join(parts + self.workers_stacks())

    def workers_stacks(self) -> list[str]:
        """The threads' stacks of each live worker's main process, as Celery's SIGUSR1
        handler writes them to its log (without their local variables): when a wait for a
        worker fails, where that worker is stuck. A Redis-outage scenario once waited 90 s
        for reconnect notes a worker gives within 12 s, with nothing in its log to say why."""
        asked = {}
        for worker in self.workers:
            if worker.process.poll() is None:
                asked[worker] = worker.log_path.stat().st_size
                os.kill(worker.process.pid, signal.SIGUSR1)
        if asked:
            time.sleep(1)  # the handler runs once the process is back in Python
        parts = []
        for worker, size in asked.items():
            with worker.log_path.open("rb") as log:
                log.seek(size)
                written = log.read().decode(errors="replace")
            stacks = "\n".join(_without_locals(written.splitlines()))
            stacks = re.sub(r'File ".*?/site-packages/', 'File "', stacks)  # the library's own path
            parts.append(
                f"--- {worker.log_path.name} (its main process's threads, asked as the wait failed) ---\n{stacks[-6000:]}"
            )
        return parts

    def query(self, sql: str, params=()) -> list[tuple]:
        return self.postgres.query(self.db, sql, params)

    def close(self):
        """Kill everything at once: the scenario is over, nothing needs a clean exit."""
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.kill_all()
            worker.stop()
        if self.web:
            self.web.kill()
        self.redis.kill()
        if self.rabbitmq:
            self.rabbitmq.close()
        if self.vhost:
            self.vhost.delete()

    # --- publishing like the platform does, for scenarios that inject messages ---------------
    @contextmanager
    def broker(self):
        """A connection to this scenario's Redis with the platform's queues declared."""
        from kombu import Connection

        from adplatform.celery import app

        with Connection(self.redis.url()) as connection:
            for queue in app.amqp.queues.values():
                queue(connection.default_channel).declare()
            yield connection

    def publish(self, task_name: str, *args, **kwargs):
        from adplatform.celery import app

        with self.broker() as connection:
            app.send_task(task_name, args=list(args), kwargs=kwargs, connection=connection)

    def publish_raw(self, *, body: bytes, headers: dict, queue: str = "intake"):
        """A message as a broken producer would send it (the body is not touched)."""
        from kombu import Producer

        with self.broker() as connection:
            Producer(connection).publish(
                body,
                exchange=queue,
                routing_key=queue,
                content_type="application/json",
                content_encoding="utf-8",
                headers=headers,
            )

    def unacknowledged(self) -> int:
        """Messages delivered to the workers and not acknowledged yet, in the broker."""
        if self.broker_kind == "redis":
            return self.redis.client().hlen("unacked")
        assert self.vhost, "counted on the shared RabbitMQ's vhosts only"
        return self.vhost.unacknowledged()

    def queued_messages(self, queue: str = "intake") -> list[list]:
        """The task arguments of every message waiting in a queue (oldest first)."""
        return [args for _task, args in queued_tasks(self.redis.url(), queue)]


def _without_locals(lines: list[str]) -> list[str]:
    """Celery's stack dump (celery.utils.debug.cry) without each thread's LOCAL VARIABLES
    block, which runs to the blank line after it."""
    kept, skipping = [], False
    for line in lines:
        if line == "LOCAL VARIABLES":
            skipping = True
        elif skipping and not line.strip():
            skipping = False
        elif not skipping:
            kept.append(line)
    return kept


@contextmanager
def _world(spare_postgres, request, *, broker: str):
    root = Path(tempfile.mkdtemp(prefix=f"adp-faults-{request.node.name[:40]}-"))
    name = f"f_{re.sub(r'[^a-z0-9_]', '_', request.node.name[:40].lower())}_{os.urandom(3).hex()}"
    world = Platform(postgres=spare_postgres, root=root, name=name, broker=broker)
    try:
        yield world
    finally:
        world.close()
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            print(f"logs of the failed scenario kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def platform(spare_postgres, request):
    """The scenario's world, on Redis; parametrized indirectly ("amqp", "amqp-private") on RabbitMQ."""
    with _world(spare_postgres, request, broker=getattr(request, "param", "redis")) as world:
        yield world


@pytest.fixture
def platforms(spare_postgres, request):
    """platforms(): one more world of its own, for a test that runs independent scenarios side
    by side (their waits on a timeout overlap instead of adding up)."""
    with ExitStack() as worlds:
        yield lambda broker="redis": worlds.enter_context(_world(spare_postgres, request, broker=broker))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


# --- clients and checks ---------------------------------------------------------------------
class Retailer:
    """The template's retailer talking to the web server over HTTP, from many threads."""

    def __init__(self, base_url: str, key: str):
        self.base_url = base_url
        self.key = key
        self._local = threading.local()

    @property
    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["Authorization"] = f"Bearer {self.key}"
        return self._local.session

    def submit(self, payload: dict) -> requests.Response:
        # The timeout is a hang detector, not a speed assertion.
        return self.session.post(self.base_url + "/api/v1/ads", json=payload, timeout=30)

    def submit_all(self, payloads: list[dict], *, threads: int = 8, on_progress=None) -> list[requests.Response]:
        done = 0
        lock = threading.Lock()

        def one(payload):
            nonlocal done
            response = self.submit(payload)
            with lock:
                done += 1
                if on_progress:
                    on_progress(done, response)
            return response

        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(one, payloads))

    def read_all(self) -> dict[str, str]:
        """Every ad of the retailer through the list API: {id: status}."""
        seen = {}
        url = self.base_url + "/api/v1/ads?page_size=500"
        while url:
            page = self.session.get(url, timeout=30)
            assert page.status_code == 200, page.text
            body = page.json()
            seen.update({ad["id"]: ad["status"] for ad in body["results"]})
            url = body["next"]
        return seen


@pytest.fixture
def retailer_client(spare_postgres):
    def for_web(web: WebServer) -> Retailer:
        return Retailer(web.url, spare_postgres.api_key)

    return for_web


def payloads(count: int, *, prefix: str) -> list[dict]:
    """Distinct ads with a mix of outcomes (prohibited categories, shouting headlines)."""
    ads = []
    for i in range(count):
        overrides = {"external_ref": f"{prefix}-{i}", "headline": f"Trail shoes model {i}"}
        if i % 10 == 3:
            overrides["category"] = "tobacco"
        elif i % 10 == 7:
            overrides["headline"] = f"Huge sale {i}!!"
        ads.append(ad_payload(**overrides))
    return ads


def progress(platform: Platform) -> tuple[int, int]:
    """(ads judged, ads projected as judged) in the database."""
    judged = platform.query("SELECT count(*) FROM ads_write_ad WHERE status <> 'pending'")[0][0]
    projected = platform.query("SELECT count(*) FROM ads_read_adview WHERE status <> 'pending'")[0][0]
    return judged, projected


def unfinished(platform: Platform, ads: set[str]) -> list[str]:
    """Those of `ads` not judged on the write side or not projected as judged."""
    rows = platform.query(
        "SELECT a.id FROM unnest(%s::uuid[]) AS a(id) LEFT JOIN ads_write_ad w ON w.id = a.id "
        "LEFT JOIN ads_read_adview v ON v.id = a.id "
        "WHERE w.status IS NULL OR w.status = 'pending' OR v.status IS NULL OR v.status = 'pending'",
        [sorted(ads)],
    )
    return [str(ad_id) for (ad_id,) in rows]


def wait_all_final(platform: Platform, count: int, *, timeout: float = 120, ads: set[str] | None = None):
    """Wait for `count` ads judged and projected; given `ads`, for those very ads: a count
    is also met by ads the scenario did not count (a request refused as the broker died,
    whose message the broker had kept) while an accepted one is still on its way back
    from a backstop (the intake journal, the read-model sweep)."""

    def done():
        judged, projected = progress(platform)
        return judged >= count and projected >= count and not (ads and unfinished(platform, ads))

    def details():
        judged, projected = progress(platform)
        intake = platform.redis.client().llen("intake") if platform.redis.process.poll() is None else "redis down"
        missing = f"; unfinished {unfinished(platform, ads)[:5]}" if ads else ""
        return f"judged {judged}, projected {projected} of {count}{missing}; intake queue {intake}\n{platform.logs()}"

    wait_for(done, timeout=timeout, what=f"{count} ads to reach a final state", interval=0.2, details=details)


def check_nothing_lost(
    platform: Platform,
    retailer: Retailer,
    accepted: set[str],
    *,
    scenario: str,
    submitted: int,
    refused_refs: set[str] = frozenset(),
    recovery: str = "",
) -> None:
    """Every accepted ad is final in the read API and in the database, with exactly one
    verdict, one submission and one validation audit entry; nothing else exists. Adds the
    scenario's row to the summary table, then asserts.

    refused_refs: external refs of ads answered 503 while the broker died. The broker may
    have stored a message whose confirmation the crash cut off: such an ad is processed
    although its client was told otherwise (README: only an Idempotency-Key makes the retry
    safe), and must then be whole like an accepted one."""
    if refused_refs:
        processed_anyway = platform.query(
            "SELECT id FROM ads_write_ad WHERE external_ref = ANY(%s)", [sorted(refused_refs)]
        )
        accepted = accepted | {str(ad_id) for (ad_id,) in processed_anyway}
    read = retailer.read_all()
    final = {ad_id for ad_id, status in read.items() if status in FINAL}
    stored = {str(row[0]) for row in platform.query("SELECT id FROM ads_write_ad")}
    extra_verdicts = platform.query("SELECT ad_id, count(*) FROM ads_write_verdict GROUP BY ad_id HAVING count(*) <> 1")
    audit_counts = platform.query(
        "SELECT ad_id, action, count(*) FROM audit_auditentry WHERE ad_id IS NOT NULL GROUP BY ad_id, action"
    )
    duplicated_audit = [(str(ad), action, n) for ad, action, n in audit_counts if n != 1]
    audited = {}
    for ad, action, _n in audit_counts:
        audited.setdefault(str(ad), set()).add(action)
    missing_audit = [ad for ad in accepted if audited.get(ad) != {"ad.submitted", "ad.validated"}]
    view_mismatch = platform.query(
        "SELECT a.id, a.status, v.status FROM ads_write_ad a LEFT JOIN ads_read_adview v ON v.id = a.id "
        "WHERE v.id IS NULL OR v.status <> a.status OR v.version <> a.version"
    )
    lost = accepted - (final & stored)
    duplicated = len(extra_verdicts) + len(duplicated_audit) + len(stored - accepted)
    report(
        scenario=scenario,
        submitted=submitted,
        final=len(final & accepted),
        lost=len(lost),
        duplicated=duplicated,
        recovery=recovery,
    )

    assert not lost, f"{len(lost)} accepted ads are not final (e.g. {sorted(lost)[:5]})"
    assert stored == accepted, f"ads stored but never accepted: {sorted(stored - accepted)[:5]}"
    assert set(read) == accepted, "the read API lists other ads than the accepted ones"
    assert not extra_verdicts, f"ads without exactly one verdict: {extra_verdicts[:5]}"
    assert not duplicated_audit, f"audit entries recorded more than once: {duplicated_audit[:5]}"
    assert not missing_audit, f"ads without their two audit entries: {missing_audit[:5]}"
    assert not view_mismatch, f"read rows that differ from the write side: {view_mismatch[:5]}"


_TASK_EVENT = re.compile(r"Task [\w.]+\[([0-9a-f-]{36})\] (received|succeeded|retry|raised)")


def held_task_ids(log_path: Path, *, since: int = 0) -> set[str]:
    """The tasks a worker had received (past offset `since` of its log) and not finished (no
    success, retry or error logged): the messages it held unacknowledged when it died."""
    last = {}
    for task_id, event in _TASK_EVENT.findall(log_path.read_text(errors="replace")[since:]):
        last[task_id] = event
    return {task_id for task_id, event in last.items() if event == "received"}


def received_task_ids(log_paths: list[Path]) -> set[str]:
    found = set()
    for path in log_paths:
        found |= {
            task_id for task_id, event in _TASK_EVENT.findall(path.read_text(errors="replace")) if event == "received"
        }
    return found


TIMESTAMP_TYPES = ("timestamp with time zone", "timestamp without time zone", "date")


def columns_without_timestamps(platform, table: str) -> str:
    rows = platform.query(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        [table],
    )
    return ", ".join(_without_timestamps(name) for name, kind in rows if kind not in TIMESTAMP_TYPES)


def _without_timestamps(column: str) -> str:
    # The read row's stored answer (AdView.document) carries the row's times too: compare
    # the rest of it (its bytes are held to the rendering by tests/ads_read/test_stored_documents.py).
    if column == "document":
        times = ", ".join(f"'{key}'" for key in ("reviewed_at", "decided_at", "withdrawn_at"))
        return f"(convert_from(document, 'UTF8')::jsonb - ARRAY[{times}])::text"
    return f'"{column}"::text'


def snapshot(platform) -> dict:
    """The state a delivery order could change, without timestamps and serial ids (the
    order of inserts differs between runs by design)."""
    return {
        "ads": platform.query(
            f"SELECT {columns_without_timestamps(platform, 'ads_write_ad')} FROM ads_write_ad ORDER BY id"
        ),
        "verdicts": platform.query(
            "SELECT event_id, ad_id, version, status, source, ruleset_version, reviewer, reason FROM ads_write_verdict "
            "ORDER BY event_id"
        ),
        "findings": platform.query(
            "SELECT v.event_id, f.code, f.category, f.severity, f.message, f.field, f.evidence::text "
            "FROM ads_write_finding f JOIN ads_write_verdict v ON v.id = f.verdict_id ORDER BY 1, 2, 3, 4, 5, 6, 7"
        ),
        "audit": platform.query(
            "SELECT ad_id, action, event_id, actor, data::text FROM audit_auditentry WHERE ad_id IS NOT NULL "
            "ORDER BY ad_id, action, event_id"
        ),
        "read rows": platform.query(
            f"SELECT {columns_without_timestamps(platform, 'ads_read_adview')} FROM ads_read_adview ORDER BY id"
        ),
    }
