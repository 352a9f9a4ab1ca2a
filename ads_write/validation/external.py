"""The optional external validator (AD_POLICY.md, "External validation"): an HTTP service that
may add findings of its own. Off unless settings.EXTERNAL_VALIDATOR_URL is set.

Protocol: POST the ad as JSON (as a client would send it) → 200 {"findings": [{code, severity,
message, field?, evidence?}, ...]}. Codes are prefixed `EXTERNAL.` when the service left it
out; only severities reject and review are taken.

Each call has a timeout and a few retries with exponential backoff and jitter; a per-process
circuit breaker stops calling a service that keeps failing and tries it again after a
cool-down. An ad the configured service could not judge gets EXTERNAL.UNAVAILABLE (review),
so it is never approved unchecked.
"""

import json
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from .rules import REVIEW, SEVERITIES, AdContext, Finding, Rule

logger = logging.getLogger(__name__)

PREFIX = "EXTERNAL."
MAX_BACKOFF = 2.0


def _setting(name: str):
    # The EXTERNAL_VALIDATOR_* settings are documented in adplatform/settings.py.
    return getattr(settings, name)


def is_configured() -> bool:
    return bool(_setting("EXTERNAL_VALIDATOR_URL"))


class Unavailable(Exception):
    """The service gave no usable answer; the message says why (for the finding's evidence)."""


class CircuitBreaker:
    """Per process. Closed: calls go through. After `threshold` consecutive failures it opens:
    calls fail at once for `cooldown` seconds. Then it half-opens: one trial call goes through;
    its success closes the breaker, its failure opens it again."""

    def __init__(self, *, threshold: int, cooldown: float, clock=time.monotonic):
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trial_running = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self.opened_at is None:
                return "closed"
            return "half-open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        with self._lock:
            if self.opened_at is None:
                return True
            if self.clock() - self.opened_at < self.cooldown or self.trial_running:
                return False
            self.trial_running = True  # half-open: this caller makes the trial call
            return True

    def record_success(self) -> None:
        with self._lock:
            self.failures = 0
            self.opened_at = None
            self.trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self.trial_running or self.failures >= self.threshold:
                self.opened_at = self.clock()
            self.trial_running = False


_state_lock = threading.Lock()
_breaker: CircuitBreaker | None = None
_session: tuple[int, requests.Session] | None = None  # (pid, session): never share sockets across fork


def circuit_breaker() -> CircuitBreaker:
    global _breaker
    with _state_lock:
        if _breaker is None:
            _breaker = CircuitBreaker(
                threshold=int(_setting("EXTERNAL_VALIDATOR_BREAKER_THRESHOLD")),
                cooldown=float(_setting("EXTERNAL_VALIDATOR_BREAKER_COOLDOWN")),
            )
        return _breaker


def http_session() -> requests.Session:
    global _session
    with _state_lock:
        if _session is None or _session[0] != os.getpid():
            pool = int(_setting("EXTERNAL_VALIDATOR_CONCURRENCY"))
            http = requests.Session()
            # No retries at this level: ours below count attempts against the breaker.
            http.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=pool, max_retries=0))
            http.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=pool, max_retries=0))
            _session = (os.getpid(), http)
        return _session[1]


def client_state_reset() -> None:
    """Forget the breaker and session (tests; settings changed)."""
    global _breaker, _session
    with _state_lock:
        _breaker = None
        if _session is not None:
            _session[1].close()
        _session = None


def ad_request_body(ad: dict) -> bytes:
    """The normalised ad as a client would post it: price amount as a string, ISO date-times."""

    def encode(value):
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        raise TypeError(f"cannot encode {type(value).__name__}")

    return json.dumps(ad, default=encode, separators=(",", ":")).encode()


def ad_check(ad: dict, *, ad_id=None) -> tuple[tuple[Finding, ...], str]:
    """Ask the service about one ad: (its findings, "") or ((), why it gave no answer)."""
    retries = int(_setting("EXTERNAL_VALIDATOR_RETRIES"))
    backoff = float(_setting("EXTERNAL_VALIDATOR_BACKOFF"))
    body = ad_request_body(ad)
    problem = ""
    for attempt in range(retries + 1):
        if attempt:
            delay = min(MAX_BACKOFF, backoff * 2 ** (attempt - 1))
            time.sleep(delay + random.uniform(0, delay))  # jitter: spread the retries of a batch
        if not circuit_breaker().allow():
            return (), "circuit breaker open"
        try:
            findings = _post(body, ad_id=ad_id)
        except Unavailable as exc:
            circuit_breaker().record_failure()
            problem = str(exc)
            continue
        circuit_breaker().record_success()
        return findings, ""
    logger.warning("external validator unavailable for ad %s after %d attempts: %s", ad_id, retries + 1, problem)
    return (), f"{problem} (after {retries + 1} attempts)"


def ads_check(ads: dict) -> dict:
    """Ask the service about a batch {ad_id: normalised ad} concurrently (a bounded pool of
    threads: each call mostly waits on the network). Returns {ad_id: (findings, error)}."""
    if not ads:
        return {}
    workers = max(1, min(len(ads), int(_setting("EXTERNAL_VALIDATOR_CONCURRENCY"))))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="external-validator") as pool:
        futures = {ad_id: pool.submit(ad_check, ad, ad_id=ad_id) for ad_id, ad in ads.items()}
        return {ad_id: future.result() for ad_id, future in futures.items()}


def _post(body: bytes, *, ad_id) -> tuple[Finding, ...]:
    timeout = float(_setting("EXTERNAL_VALIDATOR_TIMEOUT"))
    headers = {"Content-Type": "application/json"}
    if ad_id is not None:
        headers["X-Ad-Id"] = str(ad_id)
    try:
        response = http_session().post(_setting("EXTERNAL_VALIDATOR_URL"), data=body, headers=headers, timeout=timeout)
    except requests.Timeout:
        raise Unavailable(f"no answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise Unavailable(f"cannot reach the service ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise Unavailable(f"HTTP {response.status_code}")
    try:
        items = response.json()["findings"]
        if not isinstance(items, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise Unavailable("an answer without a findings list") from None
    return tuple(f for f in map(finding_from_service, items) if f is not None)


def finding_from_service(item) -> Finding | None:
    if not isinstance(item, dict) or not isinstance(item.get("code"), str) or not item["code"].strip():
        logger.warning("external validator: ignoring a finding without a code: %r", item)
        return None
    if item.get("severity") not in SEVERITIES:
        logger.warning("external validator: ignoring a finding with severity %r", item.get("severity"))
        return None
    code = item["code"].strip()
    if not code.startswith(PREFIX):
        code = PREFIX + code
    message = item.get("message") if isinstance(item.get("message"), str) else ""
    field = item.get("field") if isinstance(item.get("field"), str) else None
    evidence = item.get("evidence") if isinstance(item.get("evidence"), dict) else {}
    return Finding(
        code=code[:64],
        category="external",
        severity=item["severity"],
        message=(message or "Flagged by the external validator.")[:500],
        field=field,
        evidence=evidence,
    )


# --- rules: the service's findings come in as facts; evaluate() stays pure ---------------------


def rule_external(ctx: AdContext) -> list[Finding]:
    return list(ctx.facts.external_findings)


def rule_external_unavailable(ctx: AdContext) -> list[Finding]:
    if not ctx.facts.external_error:
        return []
    return [
        UNAVAILABLE.finding(
            "The external validator could not check this ad, so it will be checked by staff instead.",
            evidence={"reason": ctx.facts.external_error},
        )
    ]


FROM_SERVICE = Rule(
    code="EXTERNAL.*",
    severity="reject or review",
    check=rule_external,
    summary=(
        "Findings of the external validator, when `EXTERNAL_VALIDATOR_URL` is set: codes as the service "
        "names them, prefixed `EXTERNAL.`; severity as it says (reject or review; anything else is ignored). "
        'The local validator of `bench/external_validator.py` flags the word "counterfeit" as '
        "`EXTERNAL.COUNTERFEIT` (reject)."
    ),
    example={"headline": "Counterfeit designer chairs"},
    example_facts={
        "external_findings": (
            Finding(
                code="EXTERNAL.COUNTERFEIT",
                category="external",
                severity="reject",
                message="The ad offers counterfeit goods.",
                field="headline",
                evidence={"word": "counterfeit"},
            ),
        )
    },
)
UNAVAILABLE = Rule(
    code="EXTERNAL.UNAVAILABLE",
    severity=REVIEW,
    check=rule_external_unavailable,
    summary=(
        "The external validator is configured but gave no answer after its retries (timeouts, errors, "
        "or its circuit breaker is open), so the ad is held for staff rather than approved unchecked."
    ),
    example={},
    example_facts={"external_error": "no answer within 2 s (after 3 attempts)"},
)

RULES = (FROM_SERVICE, UNAVAILABLE)
