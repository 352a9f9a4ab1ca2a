"""Through real Celery workers: HTTP → projection → signed webhook at a local receiver, and
beat's daily report → per-retailer send → mail."""

import json
from datetime import timedelta
from email import message_from_bytes

import pytest
from django.utils import timezone

from adplatform.kernel.services import api_key_create
from notifications.models import ReportDelivery, WebhookDelivery
from notifications.tasks import report_daily_failed_ads_task
from tests.conftest import client_for, wait_for
from tests.factories import AdViewFactory, ad_payload
from tests.notifications.conftest import verify_signature
from tests.pipeline.conftest import LiveApi

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("mode", ["direct", "cqrs"])
def test_an_ad_submitted_over_http_reaches_the_receiver_signed(
    live_server, celery_worker, retailer, receiver, local_webhooks, intake_mode, mode
):
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

    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(ad_id=ad_id, status="delivered").first(), what="delivered"
    )
    assert request.headers["Adplatform-Event-Id"] == str(delivery.event_id)
    deliveries = live.get(f"/api/v1/webhooks/{hook.json()['id']}/deliveries").json()["results"]
    assert [(d["ad_id"], d["status"], d["attempts"]) for d in deliveries] == [(ad_id, "delivered", 1)]


def test_beat_run_mails_the_report_through_the_workers(celery_worker, retailer):
    """Beat's task fans out one send task per retailer on the `reports` queue; a real worker
    builds the CSV and mails it (to files: Django's file backend). The attachment is the
    API's CSV byte for byte."""
    yesterday = timezone.now().date() - timedelta(days=1)
    retailer.report_contacts = ["ops@nimbus.example"]
    retailer.save()
    ad = AdViewFactory(retailer_id=retailer.id, reviewed_at=timezone.now() - timedelta(days=1), headline="+cmd|calc")

    report_daily_failed_ads_task.delay()
    wait_for(lambda: ReportDelivery.objects.filter(retailer=retailer, status="sent").exists(), what="the report sent")
    [raw] = [p.read_bytes() for p in celery_worker.mail_dir.iterdir() if b"ops@nimbus.example" in p.read_bytes()]
    message = message_from_bytes(raw.split(b"\n" + b"-" * 79 + b"\n")[0])
    [attachment] = [part for part in message.walk() if part.get_filename()]
    assert attachment.get_filename() == f"failed-ads-{yesterday.isoformat()}.csv"
    api_csv = b"".join(
        client_for(retailer).get("/api/v1/reports/failed-ads.csv", {"date": yesterday.isoformat()}).streaming_content
    )
    assert attachment.get_payload(decode=True) == api_csv
    assert str(ad.id).encode() in api_csv and b"'+cmd|calc" in api_csv
