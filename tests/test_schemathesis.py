"""schemathesis over the served schema, against a real gunicorn: every phase (examples,
coverage, fuzzing, and the stateful phase, which chains operations through the links it
infers: register an endpoint, then read, list and delete it...), positive and negative data.
It fails on any 5xx and on any answer the schema does not describe (status, content type,
headers, body), on an operation that ignores its auth, and on an undeclared method that is
not a 405 with `Allow`. Bounded: at most SCHEMATHESIS_MAX_EXAMPLES (25) cases per operation and
phase, and SCHEMATHESIS_MAX_TIME (80 s) for the whole run; the case counts are printed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, WebServer, worker_env

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
MAX_TIME = int(os.environ.get("SCHEMATHESIS_MAX_TIME", "80"))
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "allow_header_conformance",
    "ignored_auth",
    # Not "use_after_free": DELETE /api/v1/keys/{id} revokes a key, which stays readable (its
    # status says revoked: a retailer sees its key history). That a deleted webhook endpoint is
    # gone is tests/notifications/test_api.py's to check.
    "ensure_resource_availability",
]


@pytest.fixture(scope="module")
def gunicorn(django_db_setup, tmp_path_factory):
    """gunicorn as the Procfile runs it, in cqrs mode (an accepted ad is stored by the
    request; no worker is needed), allowing webhooks to 127.0.0.1 (see schemathesis_hooks)."""

    server = WebServer(
        # No worker consumes here, so the intake backlog only grows: admission control (a 503
        # the schema documents, which schemathesis counts as a server error) is set past the run.
        env=worker_env(AD_INTAKE_MODE="cqrs", WEBHOOK_ALLOW_PRIVATE_NETWORKS="true", INTAKE_MAX_LAG="3600"),
        log_path=tmp_path_factory.mktemp("gunicorn") / "web.log",
    )
    try:
        yield server
    finally:
        server.kill()


def test_the_api_keeps_to_its_schema_under_schemathesis(gunicorn, retailer, tmp_path):
    from adplatform.kernel.services import api_key_create

    report = tmp_path / "report.ndjson"
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{gunicorn.url}/api/schema/?format=json",
        "--url",
        gunicorn.url,
        "--header",
        f"Authorization: Bearer {api_key_create(retailer=retailer)}",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--mode",
        "all",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(MAX_TIME),
        "--workers",
        "1",
        "--seed",
        os.environ.get("SCHEMATHESIS_SEED", "1515"),
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "--output-truncate",
        "false",
    ]
    done = subprocess.run(
        command,
        cwd=tmp_path,  # its cache goes there, not into the repository
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=MAX_TIME + 600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-20000:] + "\n" + gunicorn.log_path.read_text()[-3000:]
    cases = cases_by_phase(report)
    print(f"\nschemathesis: {sum(cases.values())} cases, by phase {cases}\n{output[-3000:]}")
    assert cases.get("stateful", 0) > 0 and cases.get("fuzzing", 0) > 0, (cases, output[-3000:])


def cases_by_phase(report: Path) -> dict[str, int]:
    """Test cases run in each phase, counted from the ndjson report's scenario events."""
    counts: dict[str, int] = {}
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for kind, payload in event.items():
            if kind == "ScenarioFinished" and isinstance(payload, dict):
                phase = str(payload.get("phase", "?")).rsplit(".", 1)[-1].lower()
                recorder = payload.get("recorder") or {}
                counts[phase] = counts.get(phase, 0) + len(recorder.get("cases", {}))
    return counts
