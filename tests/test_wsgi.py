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


def test_a_chunked_body_is_read_only_up_to_the_limit_of_its_view(settings):
    """Only the batch endpoint reads a chunked body up to the batch limit; any other path, the
    admin's anonymous login included, up to DATA_UPLOAD_MAX_MEMORY_SIZE (+1: enough for 413)."""
    import io

    from adplatform.chunked import ChunkedBodyMiddleware

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE, settings.API_MAX_BATCH_BODY_BYTES = 1_000, 500_000
    seen = {}

    def app(environ, start_response):
        seen[environ["PATH_INFO"]] = int(environ["CONTENT_LENGTH"])
        return []

    for path in ["/api/v1/ads/batch", "/admin/login/", "/api/v1/ads", "/nowhere"]:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input_terminated": True,
            "wsgi.input": io.BytesIO(b"x" * 600_000),
        }
        ChunkedBodyMiddleware(app)(environ, None)
    api_limit = max(1_000, settings.API_MAX_BODY_BYTES)
    assert seen == {
        "/api/v1/ads/batch": 500_001,
        "/admin/login/": api_limit + 1,
        "/api/v1/ads": api_limit + 1,
        "/nowhere": api_limit + 1,
    }
