"""Webhook deliveries: created by the projection for the states it applies, sent signed to a
real local receiver, retried with backoff from the database, given up after the window."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from ads_read.models import AdView
from ads_read.projections import ads_project
from ads_read.serializers import AdViewSerializer
from ads_write.services.decisions import ad_decide
from audit.models import AuditEntry
from notifications.models import WebhookDelivery
from notifications.services import webhook_deliveries
from tests.conftest import client_for
from tests.notifications.conftest import hold_for_review, submit, verify_signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(local_webhooks, retailer, receiver):
    def register(*events, url=None):
        return webhook_deliveries.webhook_endpoint_create(
            retailer=retailer, url=url or receiver.url(), events=list(events), actor="retailer:test"
        )

    return register


def test_a_final_state_is_sent_once_signed_to_each_subscribed_endpoint(endpoint, receiver, retailer, other_retailer):
    rejected_hook = endpoint("ad.rejected")
    endpoint("ad.approved")
    ad_id = submit(retailer, category="tobacco", headline="Fine cigars")
    submit(other_retailer, category="tobacco", headline="Other cigars")  # not ours: no delivery

    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.endpoint, delivery.event_type, delivery.ad_id, delivery.version) == (
        rejected_hook,
        "ad.rejected",
        ad_id,
        2,
    )
    ads_project(ad_ids=[ad_id])  # a redelivered projection applies nothing and announces nothing
    assert WebhookDelivery.objects.count() == 1

    assert webhook_deliveries.webhook_deliveries_send() == 1
    [request] = receiver.requests
    assert verify_signature(
        secret=rejected_hook.secret, header=request.headers["Adplatform-Signature"], body=request.body
    )
    assert request.headers["Adplatform-Event-Id"] == str(delivery.event_id)
    assert request.headers["Adplatform-Event-Type"] == "ad.rejected"
    assert request.headers["Content-Type"] == "application/json"
    event = json.loads(request.body)
    assert event["event_id"] == str(delivery.event_id) and event["type"] == "ad.rejected"
    assert event["ad"] == json.loads(json.dumps(AdViewSerializer(AdView.objects.get(id=ad_id)).data))
    assert [f["code"] for f in event["ad"]["findings"]] == ["COMPLIANCE.PROHIBITED_CATEGORY"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert webhook_deliveries.webhook_deliveries_send() == 0  # delivered: never again


def test_every_final_state_and_a_staff_decision_are_announced(endpoint, receiver, retailer):
    endpoint("ad.approved", "ad.needs_review", "ad.decided")
    follows_rejections = endpoint("ad.rejected")
    submit(retailer)
    held = hold_for_review(retailer, external_ref="held")
    ad_decide(ad_id=held, status="rejected", reviewer="carol", reason="Price floor breached on purpose.")
    ads_project(ad_ids=[held])

    sent = sorted(WebhookDelivery.objects.values_list("event_type", "version", "endpoint_id"))
    assert [(t, v) for t, v, _ in sent] == [
        ("ad.approved", 2),
        ("ad.decided", 3),
        ("ad.decided", 3),
        ("ad.needs_review", 2),
    ]
    # A staff rejection reaches those who follow rejections too, as ad.decided.
    assert ("ad.decided", 3, follows_rejections.id) in sent
    webhook_deliveries.webhook_deliveries_send()
    decided = [json.loads(r.body) for r in receiver.requests if r.headers["Adplatform-Event-Type"] == "ad.decided"]
    assert len(decided) == 2 and len({d["event_id"] for d in decided}) == 1  # one event, two endpoints
    assert decided[0]["ad"]["status"] == "rejected" and decided[0]["ad"]["decision"]["by"] == "carol"


def test_a_failing_receiver_is_retried_with_backoff_and_the_same_event_id(endpoint, receiver, retailer):
    hook = endpoint("ad.approved")
    submit(retailer)
    receiver.answers += [(500, {}, b"down"), (503, {}, b"still down")]
    start = timezone.now()

    assert webhook_deliveries.webhook_deliveries_send(now=start) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert "HTTP 500: down" in delivery.last_error
    assert timedelta(seconds=22) <= delivery.next_attempt_at - start <= timedelta(seconds=38)  # 30 s ± 25%
    assert webhook_deliveries.webhook_deliveries_send(now=start + timedelta(seconds=20)) == 0  # not due yet

    second = delivery.next_attempt_at
    assert webhook_deliveries.webhook_deliveries_send(now=second) == 1
    delivery.refresh_from_db()
    assert timedelta(seconds=45) <= delivery.next_attempt_at - second <= timedelta(seconds=75)  # 1 min ± 25%

    assert webhook_deliveries.webhook_deliveries_send(now=delivery.next_attempt_at) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        "delivered",
        3,
        200,
        "",
    )
    assert delivery.first_attempt_at == start
    assert len({r.headers["Adplatform-Event-Id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    for request in receiver.requests:  # each attempt signed afresh, at its own time
        timestamp = int(request.headers["Adplatform-Signature"].split(",")[0][2:])
        assert verify_signature(
            secret=hook.secret, header=request.headers["Adplatform-Signature"], body=request.body, now=timestamp
        )


def test_a_receiver_down_for_a_day_gets_a_failed_delivery_the_retailer_can_see(endpoint, receiver, retailer):
    hook = endpoint("ad.approved")
    submit(retailer)
    receiver.answers += [(500, {}, b"")] * 100
    clock = timezone.now()
    for _ in range(100):
        assert webhook_deliveries.webhook_deliveries_send(now=clock) == 1
        delivery = WebhookDelivery.objects.get()
        if delivery.status != "pending":
            break
        clock = delivery.next_attempt_at
    assert delivery.status == "failed"
    assert delivery.last_attempt_at - delivery.first_attempt_at == timedelta(hours=24)  # the window in full
    assert 20 <= delivery.attempts <= 40 and len(receiver.requests) == delivery.attempts
    assert webhook_deliveries.webhook_deliveries_send(now=clock + timedelta(days=2)) == 0

    answer = client_for(retailer).get(f"/api/v1/webhooks/{hook.id}/deliveries", {"status": "failed"}).json()
    [shown] = answer["results"]
    assert (shown["status"], shown["attempts"], shown["last_status_code"]) == ("failed", delivery.attempts, 500)


def test_a_target_that_turned_private_is_refused_at_send_time(endpoint, receiver, retailer, settings):
    endpoint("ad.approved")
    submit(retailer)
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False  # as if the name now resolved to loopback
    webhook_deliveries.webhook_deliveries_send()
    delivery = WebhookDelivery.objects.get()
    assert receiver.requests == []
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_error.startswith("refused:") and delivery.last_status_code is None
    # Staff keep the full error; the retailer reads only that the target was refused.
    [shown] = client_for(retailer).get(f"/api/v1/webhooks/{delivery.endpoint_id}/deliveries").json()["results"]
    assert shown["last_error"] == "refused: the endpoint's address or port is not allowed"


def test_registration_checks_the_url_and_audits(settings, retailer):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(webhook_deliveries.WebhookError, match="not public"):
        webhook_deliveries.webhook_endpoint_create(
            retailer=retailer, url="https://10.0.0.1/x", events=["ad.rejected"], actor="t"
        )
    with pytest.raises(webhook_deliveries.WebhookError, match="subset"):
        webhook_deliveries.webhook_endpoint_create(
            retailer=retailer, url="https://10.0.0.1/x", events=["ad.deleted"], actor="t"
        )
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    hook = webhook_deliveries.webhook_endpoint_create(
        retailer=retailer, url="https://127.0.0.1/x", events=["ad.rejected"], actor="t"
    )
    assert hook.secret.startswith("whsec_") and len(hook.secret) > 40
    assert webhook_deliveries.webhook_endpoint_delete(retailer=retailer, endpoint_id=hook.id, actor="t")
    entries = list(
        AuditEntry.objects.filter(retailer_id=retailer.id, action__startswith="webhook.").values_list("action", "data")
    )
    assert [action for action, _ in entries] == ["webhook.created", "webhook.deleted"]
    assert all(hook.secret not in json.dumps(data) for _, data in entries)
