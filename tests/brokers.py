"""RabbitMQ for the suite, without disturbing anyone else on the shared server.

- `Vhost`: a virtual host of the suite's own on the local RabbitMQ (127.0.0.1:5672,
  guest/guest), made and deleted with `rabbitmqctl`: its queues are the suite's alone, and
  deleting it drops them all.
- `PrivateRabbitMQ`: a RabbitMQ node of the test's own (its own node name, AMQP and
  distribution ports, data and log folders, Erlang cookie), for the scenarios that kill and
  restart the broker. The shared node is never touched.
- `use_broker`: points this process's Celery app (the live server's publishes) at a broker.

With CI=true a RabbitMQ the suite cannot use fails the RabbitMQ tests; elsewhere they are skipped.
"""

import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

SHARED_HOST, SHARED_PORT = "127.0.0.1", 5672
RABBITMQCTL = "rabbitmqctl"
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
BROKERS = ("redis", "amqp")


@functools.cache
def rabbitmq_problem() -> str | None:
    """Why the suite cannot use the local RabbitMQ, or None."""
    if shutil.which(RABBITMQCTL) is None:
        return "rabbitmqctl is not installed"
    try:
        socket.create_connection((SHARED_HOST, SHARED_PORT), timeout=3).close()
    except OSError as exc:
        return f"RabbitMQ at {SHARED_HOST}:{SHARED_PORT} is unreachable: {exc}"
    return None


def require_rabbitmq() -> None:
    problem = rabbitmq_problem()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI runs the RabbitMQ tests: {problem}")
        pytest.skip(problem)


def _ctl(*args: str) -> None:
    subprocess.run([RABBITMQCTL, "-q", *args], check=True, capture_output=True, timeout=60)


class Vhost:
    """A virtual host of the suite's own on the shared RabbitMQ, for the guest user."""

    def __init__(self):
        require_rabbitmq()
        self.name = f"adplatform_test_{uuid.uuid4().hex[:10]}"
        _ctl("add_vhost", self.name)
        _ctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")
        self.url = f"amqp://guest:guest@{SHARED_HOST}:{SHARED_PORT}/{self.name}"

    def set_policy(self, name: str, pattern: str, definition: str) -> None:
        _ctl("set_policy", "-p", self.name, "--apply-to", "queues", name, pattern, definition)

    def unacknowledged(self) -> int:
        """Messages delivered to consumers and not acknowledged yet, over the vhost's queues."""
        listed = subprocess.run(
            [RABBITMQCTL, "-q", "list_queues", "-p", self.name, "--no-table-headers", "messages_unacknowledged"],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return sum(int(line) for line in listed.stdout.split())

    def delete(self) -> None:
        _ctl("delete_vhost", self.name)


@contextmanager
def vhost():
    made = Vhost()
    try:
        yield made
    finally:
        made.delete()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRabbitMQ:
    """A RabbitMQ node of its own, run as the rabbitmq user from a folder of its own; kill()
    is a crash (SIGKILL of the Erlang VM), start() again recovers from the same data."""

    def __init__(self):
        require_rabbitmq()
        # A folder of its own, since the server runs as the rabbitmq user (a test's own
        # temporary folder is root's alone). close() removes it.
        self.root = root = Path(tempfile.mkdtemp(prefix="adp-rabbitmq-"))
        self.port = _free_port()
        self.node = f"adptest{uuid.uuid4().hex[:8]}@localhost"
        (root / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (root / "enabled_plugins").write_text("[].\n")
        if os.geteuid() == 0:  # the server refuses nothing as root, but keep its files its own
            for path in [root, *root.iterdir()]:
                shutil.chown(path, "rabbitmq", "rabbitmq")
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(root),  # its own Erlang cookie, made on the first start
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(_free_port()),
            "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(root / "log"),
            "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(root / "rabbitmq.pid"),
        }
        self.process = None
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self, timeout: float = 90) -> None:
        from tests.conftest import wait_for

        prefix = ["runuser", "-u", "rabbitmq", "--"] if os.geteuid() == 0 else []
        self.log = open(self.root / "server.out", "a")
        self.process = subprocess.Popen(
            [*prefix, "env", *(f"{k}={v}" for k, v in self.env.items()), RABBITMQ_SERVER],
            cwd=self.root,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._accepts, timeout=timeout, interval=0.2, what=f"RabbitMQ node {self.node}", details=self.logs)

    def _accepts(self) -> bool:
        from kombu import Connection

        if self.process.poll() is not None:
            raise RuntimeError(f"RabbitMQ exited:\n{self.logs()}")
        try:
            with Connection(self.url, connect_timeout=2) as connection:
                connection.ensure_connection(max_retries=1)
            return True
        except Exception:
            return False

    def logs(self) -> str:
        parts = [path.read_text(errors="replace")[-2000:] for path in sorted((self.root / "log").glob("*.log"))]
        return "\n".join(parts)

    def kill(self) -> None:
        """SIGKILL the node's whole process group (the Erlang VM and its helpers)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.log.close()

    def freeze(self) -> None:
        """SIGSTOP the node: a hung broker, whose kernel still accepts connections. Returns
        once each of its processes and threads shows stopped: the signal takes each when the
        kernel next schedules it, and a publish sent in between was confirmed (a hung-broker
        test saw its publish go through, once in many suites)."""
        from tests.conftest import wait_for

        os.killpg(self.process.pid, signal.SIGSTOP)
        wait_for(lambda: _group_stopped(self.process.pid), timeout=10, interval=0.01, what="the node to stop")

    def thaw(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def private_rabbitmq():
    """A RabbitMQ node of the test's own (the shared one is never killed or frozen), this
    process's Celery app publishing to it, and the platform's queues declared there."""
    from kombu import Connection

    from adplatform.celery import app

    node = PrivateRabbitMQ()
    try:
        node.start()
        with use_broker(node.url):
            with Connection(node.url) as connection:
                for queue in app.amqp.queues.values():
                    queue(connection.default_channel).declare()
            yield node
    finally:
        node.close()


@contextmanager
def use_broker(url: str):
    """Point this process's Celery app at another broker (the live server's publishes), as
    settings.py would configure it, and back afterwards."""
    from django.conf import settings

    from adplatform.celery import app
    from adplatform.kernel.queues import amqp_transport_options, is_amqp, task_queues

    # Under the names settings.py gives them: the app reads its settings with the CELERY_
    # namespace first, so an unprefixed key would hide behind the Django setting. The write
    # and read URLs too: a test that monkeypatched `app.conf.broker_write_url` leaves it set.
    conf = {
        "CELERY_BROKER_URL": url,
        "CELERY_BROKER_WRITE_URL": url,
        "CELERY_BROKER_READ_URL": url,
        "CELERY_BROKER_TRANSPORT": None if is_amqp(url) else app.conf.broker_transport,
        "CELERY_BROKER_TRANSPORT_OPTIONS": amqp_transport_options(socket_timeout=settings.BROKER_SOCKET_TIMEOUT)
        if is_amqp(url)
        else app.conf.broker_transport_options,
        "CELERY_TASK_QUEUES": task_queues(url),
    }
    missing = object()
    saved = {key: app.conf.changes.get(key, missing) for key in conf}

    def rebuild():
        # Connections, producer pool, queues and routes are built once from the conf: again.
        app._pool = None
        app.__dict__.pop("amqp", None)

    app.conf.changes.update(conf)
    rebuild()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is missing:
                app.conf.changes.pop(key, None)
            else:
                app.conf.changes[key] = value
        rebuild()


def _group_stopped(pgid: int) -> bool:
    """Whether every thread of every process in process group `pgid` is stopped (state T)."""
    states = []
    for stat in Path("/proc").glob("[0-9]*/task/[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)"
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) == pgid:  # state, ppid, pgrp, ...
            states.append(fields[0])
    return bool(states) and all(state in "Tt" for state in states)
