"""A private PgBouncer in transaction mode in front of the test PostgreSQL, on a spare port.

Debian's `pgbouncer` (`make setup-dev` installs it). It runs as the postgres user (it refuses
root) from a folder of its own, with `server_round_robin` and a warm pool of several server
connections, so that consecutive transactions of one client land on different server
sessions, as they do on a busy production pooler: anything that relies on session state
between transactions (a WITH HOLD cursor, a session advisory lock, a prepared statement)
breaks here at once instead of in production.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PGBOUNCER = "/usr/sbin/pgbouncer"


class PrivatePgBouncer:
    def __init__(self, *, upstream_host: str, upstream_port: int, port: int):
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="adp-pgbouncer-"))
        (self.root / "userlist.txt").write_text('"postgres" ""\n')
        (self.root / "pgbouncer.ini").write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host={upstream_host} port={upstream_port}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {port}",
                    "unix_socket_dir =",
                    "auth_type = trust",
                    f"auth_file = {self.root / 'userlist.txt'}",
                    "pool_mode = transaction",
                    "server_round_robin = 1",
                    "min_pool_size = 4",
                    "default_pool_size = 40",
                    "max_client_conn = 500",
                    "ignore_startup_parameters = extra_float_digits,options",
                    f"logfile = {self.root / 'pgbouncer.log'}",
                    f"pidfile = {self.root / 'pgbouncer.pid'}",
                    "",
                ]
            )
        )
        if os.geteuid() == 0:
            for path in [self.root, *self.root.iterdir()]:
                shutil.chown(path, "postgres", "postgres")
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen(
            [*prefix, PGBOUNCER, str(self.root / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def logs(self) -> str:
        path = self.root / "pgbouncer.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
