"""The WSGI entry point gunicorn loads in each worker."""

import subprocess
import sys

from tests.conftest import ROOT, worker_env


def test_a_worker_loads_the_whole_app_and_freezes_it_out_of_full_collections():
    show = (
        "import gc, sys; import adplatform.wsgi; "
        "print(gc.get_freeze_count(), 'ads_read.api' in sys.modules, 'ads_write.api' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=60
    )

    frozen, read_api, write_api = done.stdout.split()
    assert int(frozen) > 50_000, done.stderr  # the loaded app, not a handful of objects
    assert read_api == write_api == "True"  # the views were imported before the freeze
