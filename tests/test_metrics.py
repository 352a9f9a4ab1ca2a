"""GET /metrics: Prometheus text for the scraper only, with the counters of every process."""

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import ad_payload

pytestmark = pytest.mark.django_db
PUBLIC = {"REMOTE_ADDR": "203.0.113.7"}


def scrape(client, **extra) -> dict:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    # The tests below scrape from the test client's 127.0.0.1; the default allows nobody.
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32", "::1/128"]


def test_by_default_metrics_answer_nobody_not_even_the_loopback(client, settings):
    from adplatform import settings as defaults

    assert defaults.env.list("METRICS_ALLOWED_NETWORKS", default=[]) == []  # the test run sets none
    settings.METRICS_ALLOWED_NETWORKS = defaults.METRICS_ALLOWED_NETWORKS
    settings.METRICS_TOKEN = defaults.METRICS_TOKEN
    refused = client.get("/metrics")
    assert refused.status_code == 403 and refused.json()["type"].endswith("/forbidden")


def test_metrics_refuse_the_public_and_answer_the_allowed_networks(client):
    refused = client.get("/metrics", **PUBLIC)
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/forbidden")
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1


def test_with_a_token_the_public_needs_it(client, settings):
    settings.METRICS_TOKEN = "scrape-me"
    settings.METRICS_ALLOWED_NETWORKS = []
    missing = client.get("/metrics", **PUBLIC)
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    assert missing.json()["type"].endswith("/unauthorized")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **PUBLIC).status_code == 401
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me", **PUBLIC).status_code == 200


def test_with_a_token_the_allowed_networks_need_it_too(client, settings):
    """Behind a local reverse proxy every client is 127.0.0.1: the address alone proves nothing."""
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 401  # from 127.0.0.1, an allowed network
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").status_code == 200
    # Both controls are set, so both must pass: the token from elsewhere is not enough.
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me", **PUBLIC).status_code == 403


def test_counters_move_after_a_submission(client, api, intake_mode):
    intake_mode("direct")
    before = scrape(client)
    assert api.post("/api/v1/ads", ad_payload(), format="json").status_code == 202
    batch = {"ads": [ad_payload(), ad_payload(), ad_payload(headline=None)]}
    assert (
        api.generic("POST", "/api/v1/ads/batch", json.dumps(batch), content_type="application/json").status_code == 202
    )
    after = scrape(client)

    accepted = "adplatform_ads_accepted_total"
    assert value(after, accepted, mode="direct") - value(before, accepted, mode="direct") == 3
    requests = "adplatform_http_requests_total"
    assert (
        value(after, requests, route="ads", method="POST", status="202")
        - value(before, requests, route="ads", method="POST", status="202")
        == 1
    )
    duration = "adplatform_http_request_duration_seconds_count"
    assert (
        value(after, duration, route="ads-batch", method="POST")
        - value(before, duration, route="ads-batch", method="POST")
        == 1
    )
    assert value(after, "adplatform_queue_depth", queue="intake") >= 2  # two intake messages wait, no worker runs
    assert ("adplatform_queue_depth", (("queue", "projections"),)) in after


def test_unmatched_urls_and_odd_methods_do_not_grow_the_labels(client, api):
    api.generic("FROBNICATE", "/api/v1/ads")
    api.get("/api/v1/no-such-thing")
    samples = scrape(client)
    assert value(samples, "adplatform_http_requests_total", route="ads", method="OTHER", status="405") >= 1
    assert value(samples, "adplatform_http_requests_total", route="unmatched", method="GET", status="404") >= 1
