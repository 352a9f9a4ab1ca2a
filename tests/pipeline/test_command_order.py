"""Two changes of one ad racing through real workers end in the order the write side
accepted them. Each test starts its own worker only once its messages are queued (so no
module-wide worker may run here)."""

import json

import pytest
import redis
from django.conf import settings

from ads_write.models import Ad, AdChange
from audit.models import AuditEntry
from tests.conftest import WorkerProcess, client_for, wait_for, worker_env
from tests.factories import submit_ad

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]


def read_until(api, ad_id, predicate, what):
    def check():
        body = api.get(f"/api/v1/ads/{ad_id}").json()
        return body if predicate(body) else None

    return wait_for(check, timeout=90, what=what)


def test_two_changes_delivered_in_reverse_order_end_as_accepted(retailer, intake_mode, tmp_path):
    """cqrs: changes A then B are accepted while no worker consumes; their messages are then
    delivered B first. The read side ends with B (built on A), never A alone, and A's late
    message changes nothing."""
    ad = submit_ad(retailer)
    intake_mode("cqrs")
    api = client_for(retailer)
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete("intake", "projections")
    a = api.patch(f"/api/v1/ads/{ad.id}", {"headline": "A: winter sale"}, format="json", headers={"If-Match": '"2"'})
    b = api.patch(
        f"/api/v1/ads/{ad.id}", {"description": "B: now in blue."}, format="json", headers={"If-Match": '"3"'}
    )
    assert (a.status_code, b.status_code) == (202, 202), (a.content, b.content)
    assert (a.json()["version"], b.json()["version"]) == (3, 4)
    queued = broker.lrange("intake", 0, -1)  # newest first: Celery pops from the right
    assert len(queued) == 2
    # Deliver them the other way round: B's message is taken first.
    broker.delete("intake")
    broker.rpush("intake", *queued[::-1])
    assert [json.loads(m)["headers"]["id"] for m in broker.lrange("intake", 0, -1)] == [
        json.loads(m)["headers"]["id"] for m in queued[::-1]
    ]
    worker = WorkerProcess(
        env=worker_env(), queues="intake,projections,notifications", concurrency=2, log_path=tmp_path / "worker.log"
    )
    try:
        worker.wait_ready()
        live = read_until(api, ad.id, lambda body: body["version"] == 5 and body["change"] is None, "B's verdict")
        wait_for(lambda: broker.llen("intake") == 0 and broker.llen("projections") == 0, what="both messages consumed")
    finally:
        worker.stop()
    assert (live["headline"], live["description"], live["status"]) == ("A: winter sale", "B: now in blue.", "approved")
    after = api.get(f"/api/v1/ads/{ad.id}").json()
    assert (after["version"], after["description"]) == (5, "B: now in blue.")
    statuses = dict(AdChange.objects.filter(ad=ad).values_list("version", "status"))
    assert statuses == {3: AdChange.Status.SUPERSEDED, 4: AdChange.Status.JUDGED}
    assert AuditEntry.objects.filter(ad_id=ad.id, action="ad.changed").count() == 1


def test_direct_mode_takes_one_command_of_an_ad_at_a_time(retailer, intake_mode, tmp_path):
    """direct: the second change waits (409 ad-busy) until the consumer stored the first, so
    the write side stores them in the order it accepted them."""
    ad = submit_ad(retailer)
    intake_mode("direct")
    api = client_for(retailer)
    redis.Redis.from_url(settings.REDIS_URL).delete("intake")
    first = api.patch(f"/api/v1/ads/{ad.id}", {"headline": "First"}, format="json", headers={"If-Match": '"2"'})
    assert first.status_code == 202 and first.json()["version"] == 3
    busy = api.patch(f"/api/v1/ads/{ad.id}", {"headline": "Second"}, format="json", headers={"If-Match": '"3"'})
    assert busy.status_code == 409 and busy.json()["type"].endswith("/ad-busy") and busy["Retry-After"] == "1"
    worker = WorkerProcess(
        env=worker_env(), queues="intake,projections,notifications", concurrency=2, log_path=tmp_path / "worker.log"
    )
    try:
        worker.wait_ready()
        wait_for(lambda: Ad.objects.get(id=ad.id).version == 4, what="the first change judged")
        second = api.patch(f"/api/v1/ads/{ad.id}", {"headline": "Second"}, format="json", headers={"If-Match": '"4"'})
        assert second.status_code == 202, second.content
        wait_for(lambda: Ad.objects.get(id=ad.id).headline == "Second", what="the second change judged")
    finally:
        worker.stop()
    assert list(AdChange.objects.filter(ad=ad).order_by("id").values_list("version", "status")) == [
        (3, AdChange.Status.JUDGED),
        (5, AdChange.Status.JUDGED),
    ]
