"""HTTP → broker → real Celery workers → projection → signed webhook at a local receiver."""

import json

import pytest

from adplatform.kernel.services import api_key_create
from notifications.models import WebhookDelivery
from tests.conftest import wait_for
from tests.factories import ad_payload
from tests.notifications.conftest import verify_signature
from tests.pipeline.conftest import LiveApi

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("mode", ["direct", "cqrs"])
def test_an_ad_submitted_over_http_reaches_the_receiver_signed(live_server, celery_worker, retailer, receiver, local_webhooks, intake_mode, mode):
    intake_mode(mode)
    live = LiveApi(live_server.url, api_key_create(retailer=retailer))
    hook = live.post("/api/v1/webhooks", {"url": receiver.url(), "events": ["ad.approved", "ad.rejected"]})
    assert hook.status_code == 201, hook.text
    secret = hook.json()["secret"]

    ad_id = live.post("/api/v1/ads", ad_payload(category="tobacco", headline="Fine cigars")).json()["id"]
    wait_for(lambda: receiver.requests, timeout=60, what="the webhook at the receiver")
    [request] = receiver.requests
    assert verify_signature(secret=secret, header=request.headers["Adplatform-Signature"], body=request.body)
    event = json.loads(request.body)
    assert request.headers["Adplatform-Event-Type"] == event["type"] == "ad.rejected"
    assert event["ad"]["id"] == ad_id and event["ad"]["status"] == "rejected"
    assert event["ad"] == live.get(f"/api/v1/ads/{ad_id}").json()  # the read model's representation

    delivery = wait_for(lambda: WebhookDelivery.objects.filter(ad_id=ad_id, status="delivered").first(), what="delivered")
    assert request.headers["Adplatform-Event-Id"] == str(delivery.event_id)
    deliveries = live.get(f"/api/v1/webhooks/{hook.json()['id']}/deliveries").json()["results"]
    assert [(d["ad_id"], d["status"], d["attempts"]) for d in deliveries] == [(ad_id, "delivered", 1)]
