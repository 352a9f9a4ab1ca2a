import subprocess
import sys
import uuid
from datetime import UTC

import pytest
import redis

from adplatform.kernel.redis_client import redis_client
from ads_write.validation import external
from ads_write.validation.engine import AdFacts, evaluate
from ads_write.validation.external import CircuitBreaker, finding_from_service
from bench import external_validator
from tests.conftest import ROOT, free_port, worker_env

from .support import codes, judge

AD = {
    "headline": "Counterfeit designer chairs",
    "description": "Teak chairs, delivered in two days.",
    "landing_url": "https://www.nimbus-store.example/chairs",
    "country": "GB",
    "language": "en",
    "category": "home",
}


@pytest.fixture
def validator():
    server = external_validator.start(latency_ms=0)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def configured(settings, validator):
    """The engine pointed at the local validator, with quick retries for tests."""
    settings.EXTERNAL_VALIDATOR_URL = validator.url
    settings.EXTERNAL_VALIDATOR_TIMEOUT = 1.0
    settings.EXTERNAL_VALIDATOR_RETRIES = 2
    settings.EXTERNAL_VALIDATOR_BACKOFF = 0.01
    settings.EXTERNAL_VALIDATOR_BREAKER_THRESHOLD = 100
    settings.EXTERNAL_VALIDATOR_BREAKER_COOLDOWN = 30.0
    external.client_state_reset()
    yield settings
    external.client_state_reset()


def test_off_unless_configured(settings):
    settings.EXTERNAL_VALIDATOR_URL = ""
    assert not external.is_configured()


def test_findings_of_the_service(configured):
    findings, error = external.ad_check({**AD, "description": "A replica of a classic."})
    assert error == ""
    assert [(f.code, f.category, f.severity, f.field) for f in findings] == [
        ("EXTERNAL.COUNTERFEIT", "external", "reject", "headline"),
        ("EXTERNAL.REPLICA", "external", "review", "description"),  # prefixed by the client
    ]
    assert findings[0].evidence == {"word": "counterfeit"}


def test_clean_ad_gets_no_findings(configured):
    assert external.ad_check({**AD, "headline": "Teak chairs"}) == ((), "")


def test_the_ad_is_sent_as_json_a_client_would_post(configured):
    from datetime import datetime
    from decimal import Decimal

    ad = {
        **AD,
        "price": {"amount": Decimal("12.50"), "currency": "GBP"},
        "starts_at": datetime(2030, 1, 1, tzinfo=UTC),
    }
    assert external.ad_request_body(ad).count(b'"amount":"12.50"') == 1
    assert b'"starts_at":"2030-01-01T00:00:00+00:00"' in external.ad_request_body(ad)
    assert external.ad_check(ad)[1] == ""


@pytest.mark.parametrize(
    "item,expected",
    [
        ({"code": "FAKE", "severity": "reject", "message": "m"}, ("EXTERNAL.FAKE", "reject")),
        ({"code": "EXTERNAL.FAKE", "severity": "review"}, ("EXTERNAL.FAKE", "review")),
        ({"code": "FAKE", "severity": "info"}, None),  # only reject and review are taken
        ({"code": "FAKE"}, None),
        ({"severity": "reject"}, None),
        ("FAKE", None),
    ],
)
def test_findings_from_service_are_checked(item, expected):
    finding = finding_from_service(item)
    if expected is None:
        assert finding is None
    else:
        assert (finding.code, finding.severity, finding.category) == (*expected, "external")
        assert finding.message


def test_unavailable_after_retries(configured, validator):
    findings, error = external.ad_check({**AD, "headline": "Chairs [external-fail]"})
    assert findings == ()
    assert error == "HTTP 503 (after 3 attempts)"
    assert validator.requests == 3


def test_unreachable_service(configured):
    configured.EXTERNAL_VALIDATOR_URL = "http://127.0.0.1:9/validate"  # discard port: nothing listens
    findings, error = external.ad_check(AD)
    assert findings == () and error.startswith("cannot reach the service")


def test_timeout(configured, validator):
    validator.latency = 0.5
    configured.EXTERNAL_VALIDATOR_TIMEOUT = 0.1
    configured.EXTERNAL_VALIDATOR_RETRIES = 1
    assert external.ad_check(AD)[1] == "no answer within 0.1 s (after 2 attempts)"


def test_unavailable_means_review_never_approved():
    verdict = judge(facts={"external_error": "HTTP 503 (after 3 attempts)"})
    assert codes(verdict) == {"EXTERNAL.UNAVAILABLE"}
    assert verdict.status == "needs_review"
    assert verdict.findings[0].evidence == {"reason": "HTTP 503 (after 3 attempts)"}


def test_service_findings_merge_with_the_rules(configured):
    findings, _ = external.ad_check({**AD, "headline": "Counterfeit AcmePhone cases"})
    ad = {**AD, "headline": "Counterfeit AcmePhone cases"}
    verdict = evaluate(ad, facts=AdFacts(retailer_name="Nimbus", external_findings=findings))
    assert codes(verdict) == {"POLICY.TRADEMARK", "EXTERNAL.COUNTERFEIT"}
    assert verdict.status == "rejected"


def test_breaker_opens_and_stops_calling(configured, validator):
    configured.EXTERNAL_VALIDATOR_BREAKER_THRESHOLD = 3
    configured.EXTERNAL_VALIDATOR_RETRIES = 5
    external.client_state_reset()
    failing = {**AD, "headline": "Chairs [external-fail]"}
    assert external.ad_check(failing) == ((), "circuit breaker open")
    assert validator.requests == 3  # the fourth attempt was not made
    assert external.ad_check(AD) == ((), "circuit breaker open")
    assert validator.requests == 3
    assert external.circuit_breaker().state == "open"


def test_breaker_half_opens_after_cool_down():
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown=10, clock=lambda: now[0])
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 9.9
    assert not breaker.allow()
    now[0] = 10.0
    assert breaker.state == "half-open"
    assert breaker.allow()  # one trial call
    assert not breaker.allow()  # and only one
    breaker.record_failure()  # the trial failed: open again for another cool-down
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 20.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_a_success_resets_the_failure_count():
    breaker = CircuitBreaker(threshold=2, cooldown=10)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"


def test_batch_is_checked_concurrently(configured, validator):
    validator.latency = 0.2
    configured.EXTERNAL_VALIDATOR_CONCURRENCY = 32
    ads = {uuid.uuid4(): {**AD, "headline": f"Counterfeit chairs no. {i}"} for i in range(24)}
    answers = {ad_id: future.result() for ad_id, future in external.ads_check_start(ads).items()}
    assert set(answers) == set(ads)
    assert all(error == "" and findings[0].code == "EXTERNAL.COUNTERFEIT" for findings, error in answers.values())
    # Counted by the validator, not timed here: one call at a time would never pass 1, and
    # 0.2 s per call leaves the calls time to overlap however slow this machine is.
    assert validator.max_in_flight >= 8, f"at most {validator.max_in_flight} calls at once: not concurrent"


def test_failures_in_one_process_open_the_breaker_for_another(configured, validator):
    """The breaker's state is in Redis: a worker process that met the failures opens it for
    every other, which then stops calling the service without a failure of its own."""
    configured.EXTERNAL_VALIDATOR_BREAKER_THRESHOLD = 3
    external.client_state_reset()
    other_process = (
        "import django; django.setup(); from ads_write.validation import external; "
        f"print(external.ad_check({{'headline': 'Chairs {external_validator.FAIL_MARK}'}}))"
    )
    env = worker_env(
        EXTERNAL_VALIDATOR_URL=validator.url,
        EXTERNAL_VALIDATOR_BREAKER_THRESHOLD="3",
        EXTERNAL_VALIDATOR_RETRIES="5",
        EXTERNAL_VALIDATOR_BACKOFF="0.01",
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run([sys.executable, "-c", other_process], cwd=ROOT, env=env, capture_output=True, text=True)
    assert "circuit breaker open" in done.stdout, done.stdout + done.stderr
    assert validator.requests == 3

    assert external.ad_check(AD) == ((), "circuit breaker open")  # this process never failed
    assert validator.requests == 3
    assert external.circuit_breaker().state == "open"


def test_one_trial_call_among_all_processes_then_its_answer_holds_for_all(configured):
    breakers = [
        # sync_every=0: each asks Redis on every call, so each sees the other's last change at once.
        external.SharedCircuitBreaker(
            client=redis_client(), key=external.breaker_key(), threshold=2, cooldown=0, trial_timeout=60, sync_every=0
        )
        for _ in range(2)
    ]
    first, second = breakers
    first.record_failure()
    assert second.state == "closed"
    second.record_failure()  # the second failure in a row, whoever met it
    assert first.state == second.state == "half-open"  # open, and a cool-down of 0 is over at once
    assert first.allow()  # the trial call
    assert not second.allow() and not first.allow()  # and only one, wherever it is asked
    first.record_success()
    assert second.state == "closed" and second.allow() and first.allow()
    first.record_failure()
    second.record_success()  # a success resets the count of failures in a row for all
    first.record_failure()
    assert second.state == "closed"


class CountingRedis(redis.Redis):
    """A real client to the test's Redis that counts the commands it sends."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.commands = []

    def execute_command(self, *args, **options):
        self.commands.append(args[0])
        return super().execute_command(*args, **options)


def test_a_healthy_service_costs_redis_one_read_per_sync_interval_not_calls(configured):
    """Calls and successes of a closed breaker without failures go by the process's last
    reading of the shared state; a failure goes to Redis at once, and from then on every call
    asks Redis until a success resets the state for all."""
    kwargs = redis_client().connection_pool.connection_kwargs
    counting = CountingRedis(host=kwargs["host"], port=kwargs["port"], db=kwargs["db"])
    common = {"key": external.breaker_key(), "threshold": 3, "cooldown": 30, "trial_timeout": 60}
    breaker = external.SharedCircuitBreaker(client=counting, sync_every=3600, **common)
    other = external.SharedCircuitBreaker(client=redis_client(), sync_every=0, **common)

    for _ in range(50):
        assert breaker.allow()
        breaker.record_success()
    assert counting.commands == ["HMGET"]  # one reading for the 50 calls

    breaker.record_failure()
    assert counting.commands[-1] == "EVALSHA" and other.state == "closed"
    assert int(redis_client().hget(external.breaker_key(), "failures")) == 1  # shared at once
    counting.commands.clear()
    assert breaker.allow()
    assert counting.commands == ["EVALSHA"]  # after a failure, every call asks Redis
    breaker.record_success()  # and a success resets the shared count for all
    assert redis_client().hget(external.breaker_key(), "failures") is None

    # Another process opens the breaker: this one, whose reading says healthy, learns it at
    # its next reading (sync_every later; forced here), and then stops calling.
    for _ in range(3):
        other.record_failure()
    assert other.state == "open" and breaker.allow()
    breaker._reading = (breaker._reading[0] - 3600, True)
    assert not breaker.allow()


def test_without_redis_each_process_falls_back_to_its_own_breaker(configured):
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    breaker = external.SharedCircuitBreaker(
        client=unreachable, key="unused", threshold=2, cooldown=30, trial_timeout=60
    )
    assert breaker.allow()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    assert breaker.fallback.state == "open"
