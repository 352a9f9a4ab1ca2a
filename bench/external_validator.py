"""A local stand-in for the external validator ("the other API"), for tests and benchmarks.

    .venv/bin/python -m bench.external_validator --port 9100 --latency-ms 864 [--fail-rate 0.0]

POST an ad as JSON (any path) → 200 {"findings": [...]}. What it flags, deterministically:
- the word "counterfeit" in the headline or description → EXTERNAL.COUNTERFEIT (reject);
- the word "replica" → REPLICA (review; sent without the EXTERNAL. prefix, which the client adds).
Every request waits --latency-ms first; a share --fail-rate of requests (random) answers 503,
and an ad whose headline contains "[external-fail]" always gets 503 (for tests).
GET /health → 200 {"status": "ok"}. Standard library only.
"""

import argparse
import json
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTERFEIT = re.compile(r"\bcounterfeit\b", re.IGNORECASE)
REPLICA = re.compile(r"\breplica\b", re.IGNORECASE)
FAIL_MARK = "[external-fail]"


def judge(ad: dict) -> list[dict]:
    findings = []
    for field in ("headline", "description"):
        text = ad.get(field)
        if not isinstance(text, str):
            continue
        if COUNTERFEIT.search(text):
            findings.append(
                {
                    "code": "EXTERNAL.COUNTERFEIT",
                    "severity": "reject",
                    "message": "The ad appears to offer counterfeit goods.",
                    "field": field,
                    "evidence": {"word": "counterfeit"},
                }
            )
        if REPLICA.search(text):
            findings.append(
                {
                    "code": "REPLICA",
                    "severity": "review",
                    "message": "The ad offers replicas; staff will check the brand's permission.",
                    "field": field,
                    "evidence": {"word": "replica"},
                }
            )
    return findings


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses its connections
    server: "ValidatorServer"

    def log_message(self, format, *args):  # quiet: the benchmark sends thousands
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        self.server.count_request()
        try:
            if self.server.latency > 0:
                time.sleep(self.server.latency)
        finally:
            self.server.request_done()
        try:
            ad = json.loads(raw or b"null")
        except ValueError:
            ad = None
        if not isinstance(ad, dict):
            self._send(400, {"error": "expected a JSON object"})
            return
        if FAIL_MARK in str(ad.get("headline", "")) or random.random() < self.server.fail_rate:
            self._send(503, {"error": "unavailable"})
            return
        self._send(200, {"findings": judge(ad)})


class ValidatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, *, latency_ms: float = 0.0, fail_rate: float = 0.0):
        super().__init__(address, Handler)
        self.latency = latency_ms / 1000
        self.fail_rate = fail_rate
        self.requests = 0
        # Requests being answered now, and the most at once: how concurrent the caller was.
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def request_done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/validate"


def start(
    *, host: str = "127.0.0.1", port: int = 0, latency_ms: float = 0.0, fail_rate: float = 0.0
) -> ValidatorServer:
    """Serve in a background thread (port 0: any free port); stop with server.shutdown()."""
    server = ValidatorServer((host, port), latency_ms=latency_ms, fail_rate=fail_rate)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="external-validator", daemon=True
    ).start()
    return server


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="A local external validator for tests and benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="wait this long before each answer")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share of requests answered 503 (0..1)")
    args = parser.parse_args(argv)
    server = ValidatorServer((args.host, args.port), latency_ms=args.latency_ms, fail_rate=args.fail_rate)
    print(
        f"external validator on {server.url} (latency {args.latency_ms:g} ms, fail rate {args.fail_rate:g})", flush=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
