"""The optional external validator (AD_POLICY.md, "External validation"): an HTTP service that
may add findings of its own. Off unless settings.EXTERNAL_VALIDATOR_URL is set.

Protocol: POST the ad as JSON (as a client would send it) → 200 {"findings": [{code, severity,
message, field?, evidence?}, ...]}. Codes are prefixed `EXTERNAL.` when the service left it
out; only severities reject and review are taken.

Each call has a timeout and a few retries with exponential backoff and jitter; a circuit
breaker stops calling a service that keeps failing and tries it again after a cool-down. Its
state is in Redis, shared by every worker process (SharedCircuitBreaker), so a failing service
is found out once, not once per process; without Redis, or while Redis fails, each process
falls back to a breaker of its own (CircuitBreaker). An ad the configured service could not judge gets EXTERNAL.UNAVAILABLE (review),
so it is never approved unchecked.
"""

import hashlib
import json
import logging
import math
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal

import urllib3
from django.conf import settings

from adplatform.kernel.redis_client import redis_client

from .rules import REVIEW, SEVERITIES, AdContext, Rule, RuleFinding

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


# The shared breaker's state: a hash {failures, opened_at, trial_until} (Redis's clock, in
# seconds), changed only by these scripts, so that every check-and-change is atomic. KEYS[1]: the
# hash. It expires a day after its last change (a breaker nobody used since is closed).
_BREAKER_ALLOW = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1e6
local opened_at = tonumber(redis.call('HGET', KEYS[1], 'opened_at'))
if not opened_at then return 1 end
if now - opened_at < tonumber(ARGV[1]) then return 0 end
local trial_until = tonumber(redis.call('HGET', KEYS[1], 'trial_until'))
if trial_until and trial_until > now then return 0 end
-- Half-open: this caller makes the one trial call; another may try once ARGV[2] s have passed
-- (a trial whose process died must not keep the breaker shut).
redis.call('HSET', KEYS[1], 'trial_until', string.format('%.6f', now + tonumber(ARGV[2])))
redis.call('EXPIRE', KEYS[1], 86400)
return 1
"""
# ARGV[1]: the threshold. A failure during a trial, or the threshold-th in a row, opens it.
_BREAKER_FAILURE = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1e6
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if redis.call('HDEL', KEYS[1], 'trial_until') == 1 or failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'opened_at', string.format('%.6f', now))
end
redis.call('EXPIRE', KEYS[1], 86400)
return failures
"""


class SharedCircuitBreaker:
    """CircuitBreaker's states and rules, kept in Redis for every process at once: `threshold`
    consecutive failures anywhere open it everywhere, and after `cooldown` one trial call
    anywhere decides. While Redis cannot be reached it acts as `fallback`, this process's
    own breaker, and asks Redis again after REDIS_RETRY seconds.

    A healthy service costs Redis nothing per call: the process reads the shared state at most
    every `sync_every` seconds, and while it read "closed, no failure" its calls go through and
    their successes change nothing. Asking Redis on every call (a script before, a delete after)
    cost ~0.9 ms of CPU a call with a batch's 200 calls in flight, and ran the process's Redis
    connections out. The price: a process sees another's failures, or the breaker it opened, up
    to `sync_every` late, and a success it meets meanwhile does not reset their count. Once a
    failure is seen, every call asks Redis again until a success resets the shared state."""

    REDIS_RETRY = 5.0

    def __init__(
        self, *, client, key: str, threshold: int, cooldown: float, trial_timeout: float, sync_every: float = 0.5
    ):
        self.client, self.key = client, key
        self.threshold, self.cooldown, self.trial_timeout = threshold, cooldown, trial_timeout
        self.sync_every = sync_every
        self.fallback = CircuitBreaker(threshold=threshold, cooldown=cooldown)
        self._allow = client.register_script(_BREAKER_ALLOW)
        self._failure = client.register_script(_BREAKER_FAILURE)
        self._redis_down_until = 0.0
        # What this process last read of the shared state: (when, monotonic; whether it was
        # "closed, no failure"); and the lock of the one thread that reads it again.
        self._reading: tuple[float, bool] = (-math.inf, False)
        self._syncing = threading.Lock()

    def _healthy(self) -> bool:
        """Whether the shared state was "closed, no failure" when last read; read again when
        older than sync_every, by one thread (the others go by the last reading meanwhile)."""
        read_at, healthy = self._reading
        if time.monotonic() - read_at < self.sync_every or not self._syncing.acquire(blocking=False):
            return healthy
        try:
            failures, opened_at = self.client.hmget(self.key, "failures", "opened_at")
        except Exception:
            return False  # the caller asks Redis, and falls back to this process's breaker
        finally:
            self._syncing.release()
        healthy = opened_at is None and not int(failures or 0)
        self._reading = (time.monotonic(), healthy)
        return healthy

    def _shared(self, call, local):
        """`call()` on Redis; `local()` on the fallback when Redis failed, now or lately."""
        if time.monotonic() < self._redis_down_until:
            return local()
        try:
            return call()
        except Exception:
            logger.warning(
                "circuit breaker state unavailable in Redis; this process keeps its own for %g s",
                self.REDIS_RETRY,
                exc_info=True,
            )
            self._redis_down_until = time.monotonic() + self.REDIS_RETRY
            return local()

    @property
    def state(self) -> str:
        def shared():
            pipe = self.client.pipeline(transaction=False)
            pipe.hget(self.key, "opened_at")
            pipe.time()
            opened_at, (seconds, microseconds) = pipe.execute()
            if opened_at is None:
                return "closed"
            return "half-open" if seconds + microseconds / 1e6 - float(opened_at) >= self.cooldown else "open"

        return self._shared(shared, lambda: self.fallback.state)

    def allow(self) -> bool:
        if time.monotonic() >= self._redis_down_until and self._healthy():
            return True
        return self._shared(
            lambda: bool(self._allow(keys=[self.key], args=[self.cooldown, self.trial_timeout])),
            self.fallback.allow,
        )

    def record_success(self) -> None:
        read_at, healthy = self._reading
        if healthy and time.monotonic() - read_at < self.sync_every and time.monotonic() >= self._redis_down_until:
            return  # nothing to reset

        def reset():
            self.client.delete(self.key)
            self._reading = (time.monotonic(), True)

        self._shared(reset, self.fallback.record_success)

    def record_failure(self) -> None:
        self._reading = (time.monotonic(), False)  # ask Redis on every call until a success resets it
        self._shared(lambda: self._failure(keys=[self.key], args=[self.threshold]), self.fallback.record_failure)


_state_lock = threading.Lock()
_breaker: CircuitBreaker | SharedCircuitBreaker | None = None
_http: tuple[int, urllib3.PoolManager] | None = None  # (pid, pool): never share sockets across fork
_threads: tuple[int, ThreadPoolExecutor] | None = None  # (pid, pool): the calls of a batch


def circuit_breaker() -> CircuitBreaker | SharedCircuitBreaker:
    """The breaker of the configured service: shared through Redis when there is one."""
    global _breaker
    with _state_lock:
        if _breaker is None:
            _breaker = _breaker_new()
        return _breaker


def _breaker_new() -> CircuitBreaker | SharedCircuitBreaker:
    threshold = int(_setting("EXTERNAL_VALIDATOR_BREAKER_THRESHOLD"))
    cooldown = float(_setting("EXTERNAL_VALIDATOR_BREAKER_COOLDOWN"))
    client = redis_client()
    if client is None:
        return CircuitBreaker(threshold=threshold, cooldown=cooldown)
    return SharedCircuitBreaker(
        client=client,
        key=breaker_key(),
        threshold=threshold,
        cooldown=cooldown,
        # A trial call takes at most one timeout; past twice that its process is taken to have died.
        trial_timeout=2 * float(_setting("EXTERNAL_VALIDATOR_TIMEOUT")),
    )


def breaker_key() -> str:
    """The Redis key of the shared breaker: one per service URL."""
    url = _setting("EXTERNAL_VALIDATOR_URL")
    return f"external-validator:breaker:{hashlib.sha256(url.encode()).hexdigest()[:16]}"


def http_pool() -> urllib3.PoolManager:
    """This process's connections to the service, kept alive, one per calling thread at most.
    urllib3 itself, not requests over it: a call cost ~1.1 ms of CPU through requests against
    ~0.6 ms (200 calls in flight, bench/external_validator.py), and a batch makes hundreds."""
    global _http
    with _state_lock:
        if _http is None or _http[0] != os.getpid():
            # No retries at this level: ours below count attempts against the breaker.
            pool = urllib3.PoolManager(
                num_pools=4, maxsize=int(_setting("EXTERNAL_VALIDATOR_CONCURRENCY")), retries=False
            )
            _http = (os.getpid(), pool)
        return _http[1]


def client_state_reset() -> None:
    """Forget the breaker, its shared state, the connections and the threads (tests; settings changed)."""
    global _breaker, _http, _threads
    with _state_lock:
        _breaker = None
        if (client := redis_client()) is not None and is_configured():
            try:
                client.delete(breaker_key())
            except Exception:
                logger.warning("could not clear the shared circuit breaker", exc_info=True)
        if _http is not None:
            _http[1].clear()
        _http = None
        if _threads is not None and _threads[0] == os.getpid():
            _threads[1].shutdown(wait=False)
        _threads = None


def ad_request_body(ad: dict) -> bytes:
    """The normalised ad as a client would post it: price amount as a string, ISO date-times."""

    def encode(value):
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        raise TypeError(f"cannot encode {type(value).__name__}")

    return json.dumps(ad, default=encode, separators=(",", ":")).encode()


def ad_check(ad: dict, *, ad_id=None) -> tuple[tuple[RuleFinding, ...], str]:
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


def ads_check_start(ads: dict) -> dict:
    """Start asking the service about a batch {ad_id: normalised ad} on this process's pool of
    EXTERNAL_VALIDATOR_CONCURRENCY threads (each call mostly waits on the network, so a batch
    of that many ads takes about one call's time); the caller can work meanwhile. Returns
    {ad_id: a future of (findings, error)}."""
    pool = _thread_pool()
    return {ad_id: pool.submit(ad_check, ad, ad_id=ad_id) for ad_id, ad in ads.items()}


def _thread_pool() -> ThreadPoolExecutor:
    # Kept for the process's life (threads start on demand, up to the bound), not built per
    # batch; a forked child starts its own (threads do not survive a fork).
    global _threads
    with _state_lock:
        if _threads is None or _threads[0] != os.getpid():
            workers = max(1, int(_setting("EXTERNAL_VALIDATOR_CONCURRENCY")))
            _threads = (os.getpid(), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="external-validator"))
        return _threads[1]


def _post(body: bytes, *, ad_id) -> tuple[RuleFinding, ...]:
    timeout = float(_setting("EXTERNAL_VALIDATOR_TIMEOUT"))
    headers = {"Content-Type": "application/json"}
    if ad_id is not None:
        headers["X-Ad-Id"] = str(ad_id)
    try:
        response = http_pool().request(
            "POST",
            _setting("EXTERNAL_VALIDATOR_URL"),
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
        )
    except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError too, to urllib3
        raise Unavailable(f"cannot reach the service ({type(exc).__name__})") from None
    except urllib3.exceptions.TimeoutError:
        raise Unavailable(f"no answer within {timeout:g} s") from None
    except urllib3.exceptions.HTTPError as exc:
        raise Unavailable(f"cannot reach the service ({type(exc).__name__})") from None
    if response.status != 200:
        raise Unavailable(f"HTTP {response.status}")
    try:
        items = json.loads(response.data)["findings"]
        if not isinstance(items, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise Unavailable("an answer without a findings list") from None
    return tuple(f for f in map(finding_from_service, items) if f is not None)


def finding_from_service(item) -> RuleFinding | None:
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
    return RuleFinding(
        code=code[:64],
        category="external",
        severity=item["severity"],
        message=(message or "Flagged by the external validator.")[:500],
        field=field,
        evidence=evidence,
    )


# --- rules: the service's findings come in as facts; evaluate() stays pure ---------------------


def rule_external(ctx: AdContext) -> list[RuleFinding]:
    return list(ctx.facts.external_findings)


def rule_external_unavailable(ctx: AdContext) -> list[RuleFinding]:
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
            RuleFinding(
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
