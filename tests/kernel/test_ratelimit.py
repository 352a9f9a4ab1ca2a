"""Per-retailer rate limits in Redis (or, on the embedded default, in files under a lock): 429
with Retry-After, RateLimit headers, batches by the ad."""

import json

import pytest
import redis

from adplatform.kernel import ratelimit
from tests.factories import ad_payload

pytestmark = pytest.mark.django_db


def post_batch(api, size):
    return api.generic(
        "POST", "/api/v1/ads/batch", json.dumps({"ads": [ad_payload()] * size}), content_type="application/json"
    )


@pytest.fixture(params=["redis", "file"])
def limiter(request, settings, tmp_path):
    """Each place the quota lives: Redis, or without it (the embedded `make run` default) a
    file per retailer in DATA_DIR/ratelimit."""
    if request.param == "file":
        settings.REDIS_URL = ""
        settings.DATA_DIR = tmp_path
    return request.param


def test_the_request_after_the_quota_is_429_with_retry_after_and_ratelimit_headers(api, retailer, limiter):
    retailer.rate_limit_per_minute = 3
    retailer.save()
    answers = [api.get("/api/v1/ads") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a["RateLimit-Limit"] == "3" and a["RateLimit-Policy"] == "3;w=60" for a in answers)
    assert 1 <= int(answers[0]["RateLimit-Reset"]) <= 60
    refused = answers[-1]
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/rate-limited")
    assert 1 <= int(refused["Retry-After"]) <= 20  # one unit comes back every 20 s at 3 per minute


def test_a_batch_costs_one_unit_per_ad(api, retailer, intake_mode):
    intake_mode("cqrs")
    retailer.rate_limit_per_minute = 10
    retailer.save()
    first = post_batch(api, 8)
    assert first.status_code == 202 and first["RateLimit-Remaining"] == "2"
    refused = post_batch(api, 3)
    assert refused.status_code == 429 and refused["Retry-After"]
    assert post_batch(api, 2).status_code == 202  # a refused request takes nothing
    too_big = post_batch(api, 11)
    assert too_big.status_code == 429 and too_big.json()["type"].endswith("/cost-exceeds-rate-limit")


def test_the_default_quota_comes_from_settings_and_each_retailer_has_its_own(api, retailer, other_retailer, settings):
    from tests.conftest import client_for

    settings.RATE_LIMIT_PER_MINUTE = 1
    assert api.get("/api/v1/ads").status_code == 200
    assert api.get("/api/v1/ads").status_code == 429
    assert client_for(other_retailer).get("/api/v1/ads").status_code == 200


def test_switched_off_there_is_no_limit_and_no_header(api, retailer, settings):
    settings.RATE_LIMIT_ENABLED = False
    retailer.rate_limit_per_minute = 1
    retailer.save()
    answers = [api.get("/api/v1/ads") for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3
    assert "RateLimit-Limit" not in answers[0]


def test_when_redis_fails_requests_pass(api, retailer, settings):
    retailer.rate_limit_per_minute = 1
    retailer.save()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    answers = [api.get("/api/v1/ads") for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3
    assert "RateLimit-Limit" not in answers[0]


def test_the_quota_lives_in_the_redis_the_setting_names_now(retailer, settings, embedded_redis_url):
    # A process that rate-limited on one Redis and then is pointed at another counts there
    # (the limiter's script was once bound to the first Redis for the process's life).
    retailer.rate_limit_per_minute = 3  # a unit comes back in 20 s: the first take is still counted
    retailer.save()
    assert ratelimit.rate_limit_take(retailer=retailer).remaining == 2
    settings.REDIS_URL = embedded_redis_url
    assert ratelimit.rate_limit_take(retailer=retailer).remaining == 2
    assert redis.Redis.from_url(embedded_redis_url).exists(f"ratelimit:{retailer.id}")


def test_without_redis_the_web_processes_of_a_host_share_one_quota(retailer, settings, tmp_path):
    """Another process (a second gunicorn worker) takes from the same quota: the file lock."""
    import subprocess
    import sys

    from tests.conftest import ROOT, worker_env

    settings.REDIS_URL = ""
    settings.DATA_DIR = tmp_path
    take = (
        "import django; django.setup(); from adplatform.kernel.ratelimit import _local_gcra; "
        f"print([_local_gcra(key='{retailer.id}', limit=10, cost=3)[0] for _ in range(3)])"
    )
    done = subprocess.run(
        [sys.executable, "-c", take],
        cwd=ROOT,
        env=worker_env(REDIS_URL="", ADPLATFORM_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "[1, 1, 1]", done.stderr
    retailer.rate_limit_per_minute = 10
    retailer.save()
    first = ratelimit.rate_limit_take(retailer=retailer, cost=1)
    assert first.allowed and first.remaining == 0  # 9 of 10 units went to the other process
    assert not ratelimit.rate_limit_take(retailer=retailer, cost=1).allowed
