"""Fixtures for the notification tests: a real HTTP receiver on 127.0.0.1, a Celery worker
allowed to post to it, and ads driven through the real write side."""

import hashlib
import hmac
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone

from adplatform.kernel.auth import Caller
from adplatform.kernel.events import Event
from ads_read.projections import ads_project
from ads_write.services import events, intake, submissions, verdicts
from ads_write.validation import engine
from ads_write.validation.basic import validate_basic
from tests.conftest import WorkerProcess, worker_env
from tests.factories import ad_payload


def verify_signature(*, secret: str, header: str, body: bytes, now: float | None = None, tolerance: int = 300) -> bool:
    """The receiver's check, exactly as the README gives it."""
    fields = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["v1"]):
        return False
    return abs((time.time() if now is None else now) - timestamp) <= tolerance


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """What the local receiver got, and what it answers: `answers` is consumed in order
    (status, extra headers, body); once empty it answers 200."""

    host: str
    port: int
    requests: list = field(default_factory=list)
    answers: list = field(default_factory=list)
    delay: float = 0.0

    def url(self, path="/hooks") -> str:
        return f"http://{self.host}:{self.port}{path}"


class ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        receiver = self.server.receiver
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        receiver.requests.append(Received(path=self.path, headers=dict(self.headers), body=body))
        if receiver.delay:
            time.sleep(receiver.delay)
        status, headers, answer = receiver.answers.pop(0) if receiver.answers else (200, {}, b"ok")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        try:
            self.wfile.write(answer)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender timed out and hung up first: what the timeout tests want

    def log_message(self, format, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ReceiverHandler)
    server.daemon_threads = True
    server.receiver = Receiver(host="127.0.0.1", port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def local_webhooks(settings):
    """Allow plain http to loopback: the local receiver. Off by default (SSRF guard)."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    return settings


@pytest.fixture(scope="package")
def celery_worker(django_db_setup, tmp_path_factory):
    """The real worker of tests/conftest.py, allowed to post webhooks to the local receiver,
    and writing its mail to files (Django's file backend) in `worker.mail_dir`."""
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    mail_dir = tmp_path_factory.mktemp("mail")
    worker = WorkerProcess(
        env=worker_env(
            WEBHOOK_ALLOW_HTTP="true",
            WEBHOOK_ALLOW_PRIVATE_NETWORKS="true",
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(mail_dir),
        ),
        queues="intake,projections,notifications,reports,maintenance",
        concurrency=2,
        log_path=tmp_path_factory.mktemp("celery") / "worker.log",
    )
    worker.mail_dir = mail_dir
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


# --- ads through the real write side ------------------------------------------------------
def submit(retailer, **overrides) -> uuid.UUID:
    """Submit, judge and project one ad (the sync intake path)."""
    caller = Caller(retailer=retailer, key_prefix="test")
    return intake.ads_submit(caller=caller, ads=[validate_basic(ad_payload(**overrides)).ad], mode="sync")[0].id


def hold_for_review(retailer, **overrides) -> uuid.UUID:
    """An ad that detailed validation held for review (the rules engine's verdict given
    here, since which rules hold an ad is the engine's business), then projected."""
    now = timezone.now().isoformat()
    event = Event(
        type="ad.submitted",
        ad_id=str(uuid.uuid4()),
        retailer_id=str(retailer.id),
        version=1,
        occurred_at=now,
        data={
            **events.ad_event_data(validate_basic(ad_payload(**overrides)).ad),
            "submitted_at": now,
            "actor": "test",
        },
    )
    with transaction.atomic():
        submissions.submissions_store(events=[event])
    finding = engine.RuleFinding(
        "FRAUD.PRICE_FLOOR", "fraud", engine.REVIEW, "Price below the category floor.", "price"
    )
    ad_id = uuid.UUID(event.ad_id)
    verdicts.ads_record_verdicts(
        verdicts={ad_id: engine.Evaluation(engine.NEEDS_REVIEW, (finding,), engine.RULESET_VERSION)}
    )
    ads_project(ad_ids=[ad_id])
    return ad_id
