"""A real streaming replica: a private primary (migrated, one retailer) and a replica of it made
with `pg_basebackup -R`, on spare 127.0.0.1 ports (the shared server allows no replication
connections); the web runs against both (DATABASE_URL, READ_DATABASE_URL) and a Redis of its own."""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, worker_env
from tests.faults.conftest import PG_BIN, SparePostgres, SpareRedis, WebServer, _as_postgres

DB = "replicated"
RETAILER_NAME = "Replica Retailer"


class StreamingReplica(SparePostgres):
    """A hot standby of `primary`, cloned with pg_basebackup -R (which writes the
    primary_conninfo and standby.signal), on a port of its own."""

    def __init__(self, root: Path, *, primary: SparePostgres):
        self.primary = primary
        super().__init__(root)

    def create_cluster(self):
        _as_postgres(
            PG_BIN / "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            self.primary.port,
            "-U",
            "postgres",
            "-D",
            self.data,
            "-R",
            "-X",
            "stream",
            "--no-sync",
            "--checkpoint=fast",  # (a spread checkpoint waits minutes on an idle primary)
            stdout=subprocess.DEVNULL,
        )

    def replay(self, *, paused: bool) -> None:
        with self.connect() as conn:
            conn.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")


@pytest.fixture(scope="session")
def replicated_postgres():
    """(primary, replica, api_key): the primary with the migrated database and a retailer,
    the replica streaming from it."""
    root = Path(tempfile.mkdtemp(prefix="adp-replica-"))
    root.chmod(0o755)  # the servers run as postgres, in folders of their own below it
    (root / "primary").mkdir()
    (root / "replica").mkdir()
    primary = SparePostgres(root / "primary")
    replica = None
    try:
        primary.start()
        api_key = primary.platform_database(DB, retailer=RETAILER_NAME, data_dir=root / "app")
        replica = StreamingReplica(root / "replica", primary=primary)
        replica.start()
        yield primary, replica, api_key
    finally:
        for server in (replica, primary):
            if server is not None:
                try:
                    server.stop("immediate")
                except subprocess.CalledProcessError:
                    pass
        shutil.rmtree(root, ignore_errors=True)


class ReadWorld:
    """The web in sync mode (no workers needed: the request fills the read table) against the
    primary and the replica, with a Redis of its own."""

    def __init__(self, *, primary, replica, key: str, root: Path, **settings):
        self.primary, self.replica, self.root = primary, replica, root
        self.redis = SpareRedis(root)
        self.redis.start()
        self.env = worker_env(
            DATABASE_URL=primary.url(DB),
            READ_DATABASE_URL=replica.url(DB),
            REDIS_URL=self.redis.url(),
            ADPLATFORM_DATA_DIR=str(root / "app"),
            AD_INTAKE_MODE="sync",
            READ_REPLICA_CHECK_INTERVAL="0.2",
            METRICS_ALLOWED_NETWORKS="127.0.0.1/32",  # the test scrapes /metrics (closed by default)
            **settings,
        )
        self.web = WebServer(env=self.env, log_path=root / "web.log")
        self.headers = {"Authorization": f"Bearer {key}"}

    def manage_shell(self, code: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def close(self):
        self.web.kill()
        self.redis.kill()


@pytest.fixture
def read_world(replicated_postgres):
    primary, replica, key = replicated_postgres
    root = Path(tempfile.mkdtemp(prefix="adp-replica-world-"))
    worlds = []

    def start(**settings) -> ReadWorld:
        worlds.append(ReadWorld(primary=primary, replica=replica, key=key, root=root, **settings))
        return worlds[-1]

    try:
        yield start
    finally:
        for world in worlds:
            world.close()
        replica.replay(paused=False)
        shutil.rmtree(root, ignore_errors=True)
