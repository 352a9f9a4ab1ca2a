"""Pending markers (read-your-writes in the asynchronous modes) live while the ad is in
flight: PENDING_MARKER_TTL at most, PENDING_MARKER_LINGER once the read row is written."""

import pytest
import redis
from django.conf import settings

from adplatform.kernel.auth import Caller
from adplatform.kernel.events import Event
from ads_read.pending import pending_get, pending_key, pending_settle
from ads_read.projections import ads_project
from ads_read.selectors import ad_get
from ads_write.services import intake, submissions
from ads_write.validation.basic import validate_basic
from tests.conftest import client_for, queued_tasks
from tests.factories import ad_payload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker():
    broker = redis.Redis.from_url(settings.REDIS_URL)
    broker.delete("intake")
    return broker


def test_a_marker_outlives_its_ad_in_flight_and_goes_soon_after_its_read_row_lands(retailer, broker, settings):
    settings.PENDING_MARKER_LINGER = 120
    caller = Caller(retailer=retailer, key_prefix="test")
    (accepted,) = intake.ads_submit(caller=caller, ads=[validate_basic(ad_payload()).ad], mode="direct")
    key = pending_key(accepted.id)

    assert settings.PENDING_MARKER_TTL - 5 < broker.ttl(key) <= settings.PENDING_MARKER_TTL
    assert ad_get(retailer_id=retailer.id, ad_id=accepted.id)["status"] == "pending"

    (message,) = queued_tasks(settings.REDIS_URL)
    submissions.submissions_process(events=[Event.from_dict(e) for e in message[1][0]])
    assert broker.ttl(key) > 120  # judged, but not yet on the read side: the marker still answers
    ads_project(ad_ids=[accepted.id])

    assert 0 < broker.ttl(key) <= 120
    assert pending_get(ad_id=accepted.id) is not None  # a read that just missed the row still finds it
    assert ad_get(retailer_id=retailer.id, ad_id=accepted.id).status == "approved"


def test_settling_never_lengthens_a_marker(retailer, broker, settings):
    settings.PENDING_MARKER_TTL, settings.PENDING_MARKER_LINGER = 60, 600
    caller = Caller(retailer=retailer, key_prefix="test")
    (accepted,) = intake.ads_submit(caller=caller, ads=[validate_basic(ad_payload()).ad], mode="direct")
    (message,) = queued_tasks(settings.REDIS_URL)
    submissions.submissions_process(events=[Event.from_dict(e) for e in message[1][0]])

    ads_project(ad_ids=[accepted.id])

    assert 0 < broker.ttl(pending_key(accepted.id)) <= 60


def test_settling_shortens_markers_and_never_lengthens_them_on_the_embedded_redis_6_2(embedded_redis_url, settings):
    # `EXPIRE … LT` is Redis 7.0: on 6.2 every marker kept its full PENDING_MARKER_TTL.
    settings.REDIS_URL, settings.PENDING_MARKER_LINGER = embedded_redis_url, 120
    server = redis.Redis.from_url(embedded_redis_url)
    assert server.info("server")["redis_version"].startswith("6.2")
    long_lived, short_lived, no_expiry, missing = "a1", "a2", "a3", "a4"
    server.set(pending_key(long_lived), b"{}", ex=3600)
    server.set(pending_key(short_lived), b"{}", ex=60)
    server.set(pending_key(no_expiry), b"{}")

    pending_settle(ad_ids=[long_lived, short_lived, no_expiry, missing])

    assert 60 < server.ttl(pending_key(long_lived)) <= 120
    assert 0 < server.ttl(pending_key(short_lived)) <= 60
    assert 60 < server.ttl(pending_key(no_expiry)) <= 120
    assert not server.exists(pending_key(missing))


def test_an_accepted_ad_without_its_marker_still_reads_pending_never_404(retailer, other_retailer, broker, intake_mode):
    intake_mode("cqrs")
    mine = client_for(retailer)
    answer = mine.post("/api/v1/ads", ad_payload(external_ref="unmarked"), format="json")
    assert answer.status_code == 202
    ad_id = answer.json()["id"]
    # Marking is best effort: Redis down at that moment (cqrs still accepts: the outbox has it).
    broker.delete(pending_key(ad_id))

    read = mine.get(f"/api/v1/ads/{ad_id}")
    assert read.status_code == 200, read.content
    assert (read.json()["status"], read.json()["external_ref"]) == ("pending", "unmarked")
    assert read.json()["submitted_at"] == answer.json()["submitted_at"]
    assert client_for(other_retailer).get(f"/api/v1/ads/{ad_id}").status_code == 404
