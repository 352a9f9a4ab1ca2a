"""The intake consumers as the worker runs them: the buffered batch task and its retry lane."""

import json
import uuid

import pytest
import redis
from celery_batches import SimpleRequest
from django.conf import settings

from adplatform.kernel.models import DeadLetter
from ads_read.models import AdView
from ads_write.models import Ad
from ads_write.tasks import process_submissions_batch_task
from tests.factories import ad_payload, intake_events

pytestmark = pytest.mark.django_db(transaction=True)


def request(payload) -> SimpleRequest:
    return SimpleRequest(
        id=str(uuid.uuid4()),
        name=process_submissions_batch_task.name,
        args=(payload,),
        kwargs={},
        delivery_info={},
        hostname="test",
        ignore_result=True,
        reply_to=None,
        correlation_id=None,
        request_dict={},
    )


def queued_task_names(queue="intake") -> list[str]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    return [json.loads(raw)["headers"]["task"] for raw in client.lrange(queue, 0, -1)]


@pytest.fixture(autouse=True)
def empty_queues():
    redis.Redis.from_url(settings.REDIS_URL).delete("intake", "projections")


def test_buffered_messages_are_judged_together_and_projected_in_the_same_task(retailer):
    messages = [intake_events(retailer.id, ad_payload(external_ref=f"a{i}")) for i in range(5)]
    assert process_submissions_batch_task.run([request(m) for m in messages]) == 5
    assert Ad.objects.filter(status="approved").count() == 5
    # The ads it stored it projected itself (ads_project_judged): no projection message.
    assert AdView.objects.filter(status="approved").count() == 5
    assert queued_task_names("projections") == []


def test_a_failing_batch_hands_each_message_to_the_retry_lane(retailer):
    good = intake_events(retailer.id, ad_payload())
    orphan = intake_events(retailer.id, ad_payload(external_ref="orphan"))
    orphan[0]["retailer_id"] = str(uuid.uuid4())  # no such retailer: the store fails
    process_submissions_batch_task.run([request(good), request(orphan)])
    assert queued_task_names() == ["ads_write.tasks.process_submissions_task"] * 2
    assert not Ad.objects.exists()  # the batch's one transaction stored nothing


def test_a_poison_message_in_a_batch_is_dead_lettered_and_the_rest_pass(retailer):
    good = intake_events(retailer.id, ad_payload())
    assert process_submissions_batch_task.run([request("garbage"), request(good)]) == 1
    assert DeadLetter.objects.get().task_name == process_submissions_batch_task.name
    assert Ad.objects.count() == 1


def test_old_content_fingerprints_are_purged(retailer):
    from datetime import timedelta

    from django.utils import timezone

    from ads_write.models import ContentFingerprint
    from ads_write.tasks import maintenance_purge_fingerprints_task

    now = timezone.now()
    for days in (1, 30, 32, 400):
        ContentFingerprint.objects.create(
            ad_id=uuid.uuid4(), retailer_id=retailer.id, content_hash="h" * 64, submitted_at=now - timedelta(days=days)
        )
    assert maintenance_purge_fingerprints_task.apply().get() == 2
    assert sorted((now - c.submitted_at).days for c in ContentFingerprint.objects.all()) == [1, 30]
