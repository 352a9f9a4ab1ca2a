"""Batch submit on the request path: partial failure, per-item results in order, limits."""

import json
import math
import uuid

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ads_read.tasks import project_ads_task
from ads_write.models import Ad, OutboxMessage
from ads_write.tasks import process_submissions_task
from audit.models import AuditEntry
from tests.factories import ad_payload, intake_events, mixed_batch

pytestmark = pytest.mark.django_db

BATCH = "/api/v1/ads/batch"


def post_batch(api, body, path=BATCH):
    return api.generic("POST", path, json.dumps(body), content_type="application/json")


def test_a_thousand_mixed_ads_accept_exactly_the_valid_ones_in_order(api, intake_mode):
    intake_mode("cqrs")
    ads, invalid = mixed_batch(1000)
    response = post_batch(api, {"ads": ads})
    assert response.status_code == 202, response.content[:500]
    body = response.json()
    assert (body["accepted_count"], body["failed_count"]) == (1000 - len(invalid), len(invalid))
    results = body["results"]
    assert [r["index"] for r in results] == list(range(1000))
    for index, result in enumerate(results):
        if index in invalid:
            assert set(result) == {"index", "errors"}
            assert result["errors"] and all(e["code"].startswith("BASIC.") for e in result["errors"])
        else:
            assert set(result) == {"index", "id", "status"} and result["status"] == "pending"
    stored = dict(Ad.objects.values_list("id", "external_ref"))
    accepted = {r["index"]: r["id"] for r in results if "id" in r}
    assert len(stored) == len(accepted) == 1000 - len(invalid)
    assert all(stored[uuid.UUID(ad_id)] == f"item-{index}" for index, ad_id in accepted.items())
    assert OutboxMessage.objects.count() == math.ceil(len(accepted) / settings.INTAKE_MESSAGE_SIZE)
    assert AuditEntry.objects.filter(action="ad.submitted").count() == len(accepted)


def test_in_direct_mode_the_batch_goes_to_the_broker_in_messages_and_reads_as_pending(api, intake_mode):
    intake_mode("direct")
    broker = redis.Redis.from_url(settings.REDIS_URL)
    before = broker.llen("intake")
    ads, invalid = mixed_batch(250)
    response = post_batch(api, {"ads": ads})
    assert response.status_code == 202
    accepted = [r["id"] for r in response.json()["results"] if "id" in r]
    assert len(accepted) == 250 - len(invalid)
    assert broker.llen("intake") - before == math.ceil(len(accepted) / settings.INTAKE_MESSAGE_SIZE)
    assert not Ad.objects.exists()  # the consumer stores them
    for ad_id in accepted[:3] + accepted[-3:]:
        read = api.get(f"/api/v1/ads/{ad_id}")
        assert read.status_code == 200 and read.json()["status"] == "pending"


def statements(run) -> int:
    with CaptureQueriesContext(connection) as queries:
        run()
    return len(queries)


def test_a_batch_costs_statements_per_message_not_per_ad(api, retailer, intake_mode):
    intake_mode("cqrs")  # the mode that stores on the request path

    def submit(size):
        ads = [ad_payload(external_ref=f"{size}-{i}") for i in range(size)]
        return lambda: post_batch(api, {"ads": ads})

    statements(submit(1))  # warm: the API key lookup is cached after the first request
    one, many = statements(submit(1)), statements(submit(250))
    messages = math.ceil(250 / settings.INTAKE_MESSAGE_SIZE)
    # One outbox row per message; the ads and audit entries in bulk. From COPY_MIN_ROWS rows on
    # the ads go by COPY under a savepoint (kernel/bulk.py): its two statements, once.
    assert many == one + (messages - 1) + 2

    # The consumers: an intake message and its projection cost as much for 100 ads as for one.
    retailer.velocity_limit = 10_000
    retailer.save()

    def consume(size):
        events = intake_events(retailer.id, *[ad_payload(headline=f"Trail shoes {size} {i}") for i in range(size)])
        return (
            statements(lambda: process_submissions_task.apply(args=[events]).get()),
            statements(lambda: project_ads_task.apply(args=[[e["ad_id"] for e in events]]).get()),
        )

    (intake_many, projection_many), (intake_one, projection_one) = consume(settings.INTAKE_MESSAGE_SIZE), consume(1)
    # Many rows go by COPY (adplatform/kernel/bulk.py): the fingerprints under a savepoint (two
    # statements more; the ads, written once with their verdicts, need none: a conflict fails
    # that whole transaction), and the read model's through a staging table (its CREATE and
    # COPY, two more), in the intake task, which projects the ads it stored, and in the
    # projection task — the same few statements whatever the message's size.
    assert intake_many == intake_one + 2 + 2 and projection_many == projection_one + 2


def test_in_sync_mode_the_answer_is_201_with_final_statuses(api, intake_mode):
    intake_mode("sync")
    ads = [
        ad_payload(external_ref="ok"),
        ad_payload(external_ref="cigars", category="tobacco"),
        ad_payload(headline=""),
    ]
    response = post_batch(api, {"ads": ads})
    assert response.status_code == 201
    results = response.json()["results"]
    assert [r.get("status") for r in results] == ["approved", "rejected", None]
    assert results[2]["errors"][0]["field"] == "headline"


def test_a_batch_where_nothing_passes_is_a_422_problem_with_the_results(api, intake_mode):
    intake_mode("cqrs")
    response = post_batch(api, {"ads": [ad_payload(headline=None), "not an ad"]})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/batch-rejected")
    assert [r["index"] for r in problem["results"]] == [0, 1]
    assert problem["results"][1]["errors"][0]["code"] == "BASIC.INVALID_VALUE"
    assert not Ad.objects.exists()


def test_more_than_1000_ads_is_a_422_problem(api, intake_mode):
    intake_mode("cqrs")
    response = post_batch(api, {"ads": [ad_payload()] * 1001})
    assert response.status_code == 422
    assert response.json()["type"].endswith("/batch-too-large")
    assert not Ad.objects.exists()


@pytest.mark.parametrize(
    "body", [[ad_payload()], {"ads": []}, {"ads": ad_payload()}, {"ads": [ad_payload()], "extra": 1}, {}]
)
def test_a_body_that_is_not_a_batch_is_400(api, body):
    response = post_batch(api, body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"].endswith("/bad-request") and problem["errors"][0]["field"] == "ads"


def test_a_batch_body_over_the_limit_is_413(api, settings):
    settings.API_MAX_BATCH_BODY_BYTES = 10_000
    response = post_batch(api, {"ads": [ad_payload()] * 40})
    assert response.status_code == 413
    assert response.json()["type"].endswith("/payload-too-large")
