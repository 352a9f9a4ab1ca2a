"""Idempotency keys on POST: replay, reuse with another request, concurrency, expiry."""

import hashlib
import json
import threading
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from adplatform.kernel.auth import Caller
from ads_write.idempotency import idempotent
from ads_write.models import Ad, IdempotencyKey, OutboxMessage
from ads_write.tasks import maintenance_idempotency_purge_task
from tests.conftest import client_for
from tests.factories import ad_payload

KEY = {"HTTP_IDEMPOTENCY_KEY": "order-42"}


def post(api, body, path="/api/v1/ads", **headers):
    return api.generic("POST", path, json.dumps(body), content_type="application/json", **headers)


@pytest.mark.django_db
def test_a_retry_replays_the_first_answer_without_a_second_ad(api, intake_mode):
    intake_mode("cqrs")
    first = post(api, ad_payload(), **KEY)
    again = post(api, ad_payload(), **KEY)
    assert first.status_code == again.status_code == 202
    assert again.content == first.content and again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert again["X-Request-ID"] != first["X-Request-ID"]  # a new request, the old answer
    assert Ad.objects.count() == 1 and OutboxMessage.objects.count() == 1
    record = IdempotencyKey.objects.get()
    assert (record.key, record.state, record.response_status) == ("order-42", "completed", 202)


@pytest.mark.django_db
def test_without_a_key_every_post_acts(api, intake_mode):
    intake_mode("cqrs")
    post(api, ad_payload())
    post(api, ad_payload())
    assert Ad.objects.count() == 2 and not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_the_same_key_with_another_body_or_path_is_422(api, intake_mode):
    intake_mode("cqrs")
    post(api, ad_payload(), **KEY)
    for response in (
        post(api, ad_payload(headline="Another headline"), **KEY),
        post(api, {"ads": [ad_payload()]}, path="/api/v1/ads/batch", **KEY),
        post(api, ad_payload(), path="/api/v1/ads?validate_only=true", **KEY),
    ):
        assert response.status_code == 422
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["type"].endswith("/idempotency-key-reused")
    assert Ad.objects.count() == 1


@pytest.mark.django_db
def test_keys_belong_to_one_retailer(api, other_retailer, intake_mode):
    intake_mode("cqrs")
    mine = post(api, ad_payload(), **KEY)
    theirs = post(client_for(other_retailer), ad_payload(headline="Theirs"), **KEY)
    assert mine.status_code == theirs.status_code == 202
    assert mine.json()["id"] != theirs.json()["id"]
    assert Ad.objects.count() == 2


@pytest.mark.django_db
def test_a_client_error_is_stored_and_replayed_too(api):
    first = post(api, ad_payload(headline=None), **KEY)
    again = post(api, ad_payload(headline=None), **KEY)
    assert first.status_code == again.status_code == 400
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert again["Content-Type"] == "application/problem+json"


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "clé-ünïcode"])
def test_an_invalid_key_is_400(api, key):
    response = post(api, ad_payload(), HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert response.json()["type"].endswith("/invalid-idempotency-key")


@pytest.mark.django_db
def test_while_the_first_request_runs_a_retry_gets_409_with_retry_after(api, retailer):
    body = json.dumps(ad_payload()).encode()
    # The fingerprint: SHA-256 of method, path with query string, and body.
    fingerprint = hashlib.sha256(b"POST /api/v1/ads\n" + body).hexdigest()
    IdempotencyKey.objects.create(retailer=retailer, key="order-42", fingerprint=fingerprint)
    response = api.generic("POST", "/api/v1/ads", body, content_type="application/json", **KEY)
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert response.json()["type"].endswith("/idempotency-key-in-flight")
    assert not Ad.objects.exists()


@pytest.mark.django_db
def test_a_claim_abandoned_by_a_dead_request_is_taken_over(api, retailer, intake_mode, settings):
    intake_mode("cqrs")
    body = json.dumps(ad_payload()).encode()
    fingerprint = hashlib.sha256(b"POST /api/v1/ads\n" + body).hexdigest()
    long_ago = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_LOCK_TIMEOUT + 1)
    IdempotencyKey.objects.create(retailer=retailer, key="order-42", fingerprint=fingerprint, created_at=long_ago)
    response = api.generic("POST", "/api/v1/ads", body, content_type="application/json", **KEY)
    assert response.status_code == 202
    assert IdempotencyKey.objects.get().state == "completed"


@pytest.mark.django_db
def test_an_expired_key_counts_as_new_and_the_purge_removes_expired_keys(api, retailer, intake_mode):
    intake_mode("cqrs")
    first = post(api, ad_payload(), **KEY)
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = post(api, ad_payload(headline="A new request with an old key"), **KEY)
    assert again.status_code == 202 and "Idempotent-Replayed" not in again
    assert again.json()["id"] != first.json()["id"] and Ad.objects.count() == 2

    post(api, ad_payload(), HTTP_IDEMPOTENCY_KEY="fresh")
    IdempotencyKey.objects.filter(key="order-42").update(created_at=timezone.now() - timedelta(hours=25))
    assert maintenance_idempotency_purge_task.apply().get() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


class _FailingApi(APIView):
    """A POST view that fails on our side, to see what the decorator keeps of a 5xx."""

    calls = 0

    @idempotent
    def post(self, request):
        _FailingApi.calls += 1
        return Response({"detail": "try later"}, status=503)


@pytest.mark.django_db
def test_a_server_error_is_not_stored_so_a_retry_runs(retailer):
    factory = APIRequestFactory()
    view = _FailingApi.as_view()
    for _ in range(2):
        request = factory.post("/fail", {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k")
        caller = Caller(retailer=retailer, key_prefix="test")
        force_authenticate(request, user=retailer, token=caller)
        request.caller = caller  # what ApiKeyAuthentication sets, which forced authentication skips
        assert view(request).status_code == 503
    assert _FailingApi.calls == 2 and not IdempotencyKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_ad(live_server, retailer, intake_mode):
    from adplatform.kernel.services import api_key_create

    intake_mode("sync")  # the whole pipeline runs inside the request: a wide window to race in
    headers = {"Authorization": f"Bearer {api_key_create(retailer=retailer)}", "Idempotency-Key": "race-1"}
    body = ad_payload()
    start = threading.Barrier(8)
    answers = []

    def submit():
        start.wait()
        answers.append(requests.post(f"{live_server.url}/api/v1/ads", json=body, headers=headers, timeout=30))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Ad.objects.count() == 1
    assert {a.status_code for a in answers} <= {201, 409} and 201 in {a.status_code for a in answers}
    created = [a for a in answers if a.status_code == 201]
    assert {a.json()["id"] for a in created} == {str(Ad.objects.get().id)}
    assert sum("Idempotent-Replayed" not in a.headers for a in created) == 1  # one ran, the rest replayed
    assert all(a.headers["Retry-After"] == "1" for a in answers if a.status_code == 409)


def test_every_post_handler_of_the_api_is_idempotent():
    from django.urls import URLResolver, get_resolver

    def views(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from views(pattern.url_patterns)
            elif getattr(pattern.callback, "cls", None):  # a DRF view
                yield pattern.callback.cls

    posting = [view for view in views(get_resolver().url_patterns) if hasattr(view, "post")]
    assert {view.__name__ for view in posting} >= {"AdCollectionApi", "AdBatchSubmitApi", "WebhookCollectionApi"}
    assert all(getattr(view.post, "idempotent", False) for view in posting), [v.__name__ for v in posting]
