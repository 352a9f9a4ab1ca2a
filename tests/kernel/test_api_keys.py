"""/api/v1/keys: a retailer lists, makes, labels, rotates and revokes its own keys; scopes,
expiry, last use, the lock-out guard, and every change audited. (The same revocation seen by
two real web processes: test_revocation_live.py.)"""

from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from adplatform.kernel.auth import forget_cached_keys
from adplatform.kernel.models import ApiKey, Scope
from adplatform.kernel.scopes import OPERATION_SCOPES, routes
from adplatform.kernel.services import api_key_issue, api_key_revoke, retailer_set_active
from audit.models import AuditEntry
from tests.conftest import wait_for
from tests.factories import ad_payload

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit (the key stamp) runs as in production


def keyed(retailer, scopes=None, **options) -> tuple[APIClient, ApiKey]:
    issued = api_key_issue(retailer=retailer, scopes=scopes, **options)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw_key}")
    return client, issued.key


def bearer(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def test_a_retailer_makes_lists_labels_and_revokes_its_keys_each_change_audited(retailer, other_retailer):
    admin, admin_key = keyed(retailer, label="admin")
    keyed(other_retailer)  # never seen by this retailer

    made = admin.post(
        "/api/v1/keys", {"label": "shop", "scopes": ["read", "submit"]}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["secret"].startswith(f"adp_{body['prefix']}_") and body["scopes"] == ["read", "submit"]
    assert body["status"] == "active" and body["expires_at"] is None and body["current"] is False
    shop = bearer(body["secret"])
    assert shop.get("/api/v1/ads").status_code == 200

    listed = admin.get("/api/v1/keys").json()["results"]
    assert [k["id"] for k in listed] == [body["id"], str(admin_key.id)]  # newest first, only its own
    assert all("secret" not in k and "key_hash" not in k for k in listed)
    assert [k["current"] for k in listed] == [False, True]
    assert body["secret"] not in admin.get(f"/api/v1/keys/{body['id']}").content.decode()

    labelled = admin.patch(f"/api/v1/keys/{body['id']}", {"label": "shop backend"}, format="json")
    assert labelled.status_code == 200 and labelled.json()["label"] == "shop backend"

    assert admin.delete(f"/api/v1/keys/{body['id']}").status_code == 204
    assert shop.get("/api/v1/ads").status_code == 401
    assert admin.get(f"/api/v1/keys/{body['id']}").json()["status"] == "revoked"
    assert admin.delete(f"/api/v1/keys/{body['id']}").status_code == 204  # again: nothing changes

    entries = list(
        AuditEntry.objects.filter(action__startswith="api_key.", retailer_id=retailer.id).order_by("sequence")
    )
    assert [e.action for e in entries] == ["api_key.created", "api_key.created", "api_key.updated", "api_key.revoked"]
    assert all(e.actor == f"retailer:{retailer.id}/key:{admin_key.prefix}" for e in entries[1:])
    assert entries[1].data["scopes"] == ["read", "submit"] and entries[3].data["key_id"] == body["id"]


def test_another_retailers_key_is_not_found(retailer, other_retailer):
    admin, _ = keyed(retailer)
    _, theirs = keyed(other_retailer)
    assert admin.get(f"/api/v1/keys/{theirs.id}").status_code == 404
    assert admin.delete(f"/api/v1/keys/{theirs.id}").status_code == 404
    assert admin.post(f"/api/v1/keys/{theirs.id}/rotate", {}, format="json").status_code == 404
    assert ApiKey.objects.get(pk=theirs.pk).revoked_at is None


def test_a_revoked_key_is_refused_at_once_though_this_process_cached_it(retailer):
    admin, _ = keyed(retailer)
    leaked, leaked_key = keyed(retailer, scopes=["read"])
    assert leaked.get("/api/v1/ads").status_code == 200  # now in this process's key cache
    assert leaked.get("/api/v1/ads").status_code == 200
    api_key_revoke(key_id=leaked_key.id, actor="staff:alice")  # not through this client: no local hint
    refused = leaked.get("/api/v1/ads")
    assert refused.status_code == 401 and refused.json()["type"].endswith("/unauthorized")
    assert admin.get("/api/v1/ads").status_code == 200


def test_a_deactivated_retailer_is_refused_at_once_and_back_when_reactivated(retailer, other_retailer):
    client, _ = keyed(retailer)
    other, _ = keyed(other_retailer)
    assert client.get("/api/v1/ads").status_code == 200
    retailer_set_active(retailer=retailer, active=False, actor="staff:alice")
    assert client.get("/api/v1/ads").status_code == 401
    assert other.get("/api/v1/ads").status_code == 200
    retailer_set_active(retailer=retailer, active=True, actor="staff:alice")
    assert client.get("/api/v1/ads").status_code == 200
    actions = AuditEntry.objects.filter(retailer_id=retailer.id, actor="staff:alice").order_by("sequence")
    assert list(actions.values_list("action", flat=True)) == ["retailer.deactivated", "retailer.activated"]


@pytest.mark.parametrize(
    ("method", "path", "needs"),
    [
        ("get", "/api/v1/ads", "read"),
        ("post", "/api/v1/ads", "submit"),
        ("post", "/api/v1/ads/batch", "submit"),
        ("get", "/api/v1/stats", "read"),
        ("get", "/api/v1/settings", "read"),
        ("patch", "/api/v1/settings", "settings"),
        ("post", "/api/v1/webhooks", "settings"),
        ("get", "/api/v1/webhooks", "read"),
        ("get", "/api/v1/keys", "keys"),
        ("post", "/api/v1/keys", "keys"),
    ],
)
def test_a_key_without_the_scope_gets_a_403_problem(retailer, method, path, needs):
    lacking, _ = keyed(retailer, scopes=[s for s in Scope.values if s != needs])
    refused = getattr(lacking, method)(path, {}, format="json")
    assert refused.status_code == 403, refused.content
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/insufficient-scope") and refused.json()["required_scope"] == needs
    having, _ = keyed(retailer, scopes=[needs])
    assert getattr(having, method)(path, {}, format="json").status_code != 403


def test_a_read_only_key_reads_but_changes_nothing(retailer):
    reader, _ = keyed(retailer, scopes=["read"])
    assert reader.get("/api/v1/ads").status_code == 200
    assert reader.post("/api/v1/ads", ad_payload(), format="json").status_code == 403
    assert reader.patch("/api/v1/settings", {"report_contacts": ["x@evil.example"]}, format="json").status_code == 403
    assert retailer.report_contacts == type(retailer).objects.get(pk=retailer.pk).report_contacts


def test_every_api_operation_has_a_scope():
    """Walk the URLs: each method of each /api/v1 view is in the scope table (else it is
    refused to every key)."""

    operations = set()
    for path, pattern in routes(get_resolver().url_patterns):
        view = getattr(pattern.callback, "view_class", None)
        if path.startswith("/api/v1/") and view is not None:
            operations |= {
                (pattern.name, m.upper()) for m in ("get", "post", "patch", "put", "delete") if hasattr(view, m)
            }
    # (bench/ceiling_urls.py adds its stand-in for POST /api/v1/ads when the bench loads it.)
    assert operations == {op for op in OPERATION_SCOPES if not op[0].startswith("bench-")}


def test_a_key_cannot_grant_or_rotate_into_scopes_it_lacks(retailer):
    manager, _ = keyed(retailer, scopes=["keys", "read"])
    refused = manager.post("/api/v1/keys", {"scopes": ["read", "submit"]}, format="json")
    assert refused.status_code == 403 and refused.json()["type"].endswith("/insufficient-scope")
    _, full_key = keyed(retailer)
    assert manager.post(f"/api/v1/keys/{full_key.id}/rotate", {}, format="json").status_code == 403
    assert manager.post("/api/v1/keys", {"scopes": ["read"]}, format="json").status_code == 201
    assert manager.post("/api/v1/keys", {"scopes": ["bogus"]}, format="json").status_code == 400
    assert manager.post("/api/v1/keys", {"scopes": []}, format="json").status_code == 400


def test_the_last_key_that_manages_keys_is_kept_unless_asked(retailer):
    only, only_key = keyed(retailer, scopes=["keys", "read"])
    _, reader_key = keyed(retailer, scopes=["read"])
    assert only.delete(f"/api/v1/keys/{reader_key.id}").status_code == 204  # not a manager: no guard
    kept = only.delete(f"/api/v1/keys/{only_key.id}")
    assert kept.status_code == 409 and kept.json()["type"].endswith("/last-key-manager")
    assert only.get("/api/v1/keys").status_code == 200

    # An expired manager does not count as the one that is left.
    _, expired = keyed(retailer, scopes=["keys"], expires_at=timezone.now() + timedelta(seconds=1))
    wait_for(lambda: not ApiKey.objects.get(pk=expired.pk).is_active(), timeout=10, what="the key to expire")
    assert only.delete(f"/api/v1/keys/{only_key.id}").status_code == 409

    second, second_key = keyed(retailer, scopes=["keys"])
    assert second.delete(f"/api/v1/keys/{only_key.id}").status_code == 204  # another manager is left
    assert only.get("/api/v1/keys").status_code == 401
    assert second.delete(f"/api/v1/keys/{second_key.id}").status_code == 409  # now it is the last
    assert second.delete(f"/api/v1/keys/{second_key.id}?allow_lockout=true").status_code == 204
    assert second.get("/api/v1/keys").status_code == 401
    entry = AuditEntry.objects.filter(action="api_key.revoked").order_by("-sequence").first()
    assert entry.data["allow_lockout"] is True and entry.data["key_id"] == str(second_key.id)


def test_rotation_leaves_the_old_key_working_for_the_grace_then_refuses_it(retailer):
    old, old_key = keyed(retailer, label="shop", scopes=["read", "submit", "keys"])
    before = timezone.now()
    rotated = old.post(f"/api/v1/keys/{old_key.id}/rotate", {"grace_seconds": 3600}, format="json")
    assert rotated.status_code == 201, rotated.content
    new = rotated.json()
    assert new["label"] == "shop" and new["scopes"] == ["read", "submit", "keys"] and new["id"] != str(old_key.id)
    assert bearer(new["secret"]).get("/api/v1/ads").status_code == 200
    assert old.get("/api/v1/ads").status_code == 200  # still within its grace
    shown = old.get(f"/api/v1/keys/{old_key.id}").json()
    assert shown["replaced_by"] == new["id"] and shown["status"] == "active"
    expires = ApiKey.objects.get(pk=old_key.pk).expires_at
    assert before + timedelta(seconds=3600) <= expires <= timezone.now() + timedelta(seconds=3600)
    again = old.post(f"/api/v1/keys/{old_key.id}/rotate", {}, format="json")
    assert again.status_code == 409 and again.json()["type"].endswith("/api-key-inactive")
    entry = AuditEntry.objects.get(action="api_key.rotated")
    assert entry.data["key_id"] == str(old_key.id) and entry.data["new_key"]["key_id"] == new["id"]

    # A short grace runs out: the old key is refused, the new one works.
    short, short_key = keyed(retailer, scopes=["read"])
    assert short.get("/api/v1/ads").status_code == 200
    replaced = bearer(new["secret"]).post(f"/api/v1/keys/{short_key.id}/rotate", {"grace_seconds": 1}, format="json")
    assert replaced.status_code == 201
    wait_for(lambda: short.get("/api/v1/ads").status_code == 401, timeout=15, what="the grace to end")
    assert bearer(replaced.json()["secret"]).get("/api/v1/ads").status_code == 200


def test_rotation_with_no_grace_refuses_the_old_key_at_once_and_the_grace_is_bounded(retailer):
    old, old_key = keyed(retailer)
    assert old.get("/api/v1/ads").status_code == 200  # cached in this process
    too_long = old.post(f"/api/v1/keys/{old_key.id}/rotate", {"grace_seconds": 8 * 86400}, format="json")
    assert too_long.status_code == 400
    rotated = old.post(f"/api/v1/keys/{old_key.id}/rotate", {"grace_seconds": 0}, format="json")
    assert rotated.status_code == 201
    assert old.get("/api/v1/ads").status_code == 401
    assert bearer(rotated.json()["secret"]).get("/api/v1/ads").status_code == 200


def test_a_key_made_with_an_expiry_is_refused_once_it_passes(retailer):
    admin, _ = keyed(retailer)
    soon = (timezone.now() + timedelta(seconds=1)).isoformat()
    made = admin.post("/api/v1/keys", {"scopes": ["read"], "expires_at": soon}, format="json")
    assert made.status_code == 201
    key = bearer(made.json()["secret"])
    wait_for(lambda: key.get("/api/v1/ads").status_code == 401, timeout=15, what="the key to expire")
    assert admin.get(f"/api/v1/keys/{made.json()['id']}").json()["status"] == "expired"
    past = admin.post("/api/v1/keys", {"scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z"}, format="json")
    assert past.status_code == 400


def _last_used_updates(queries) -> int:
    return sum(1 for q in queries if q["sql"].startswith("UPDATE") and "last_used_at" in q["sql"])


def test_last_used_is_written_at_most_once_a_minute_per_key(retailer):
    client, key = keyed(retailer, scopes=["read"])
    other, other_key = keyed(retailer, scopes=["read"])
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert client.get("/api/v1/ads").status_code == 200
        assert other.get("/api/v1/ads").status_code == 200
    assert _last_used_updates(queries) == 2  # one per key, not one per request
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None and ApiKey.objects.get(pk=other_key.pk).last_used_at is not None

    # The minute's gate is a Redis key that expires; once it has, the next use is written.
    redis.Redis.from_url(django_settings.REDIS_URL).delete(f"api-key-used:{key.id}")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/ads").status_code == 200
        assert client.get("/api/v1/ads").status_code == 200
    assert _last_used_updates(queries) == 1
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first


def test_without_redis_every_request_reads_its_key_so_changes_apply_at_once(retailer, settings):
    settings.REDIS_URL = ""  # the embedded default: no cache across requests
    forget_cached_keys()
    client, key = keyed(retailer, scopes=["read"])
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert client.get("/api/v1/ads").status_code == 200
    assert _last_used_updates(queries) == 1  # gated by the stored time instead
    api_key_revoke(key_id=key.id, actor="staff:alice")
    assert client.get("/api/v1/ads").status_code == 401


def test_when_redis_fails_keys_are_read_from_the_database(retailer, settings):
    client, key = keyed(retailer, scopes=["read"])
    assert client.get("/api/v1/ads").status_code == 200  # cached
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens: the stamp cannot be read
    api_key_revoke(key_id=key.id, actor="staff:alice")
    assert client.get("/api/v1/ads").status_code == 401


def test_an_idempotent_retry_of_a_key_creation_neither_stores_nor_repeats_the_secret(retailer):
    from ads_write.models import IdempotencyKey

    admin, admin_key = keyed(retailer)
    first = admin.post("/api/v1/keys", {"scopes": ["read"]}, format="json", HTTP_IDEMPOTENCY_KEY="make-1")
    again = admin.post("/api/v1/keys", {"scopes": ["read"]}, format="json", HTTP_IDEMPOTENCY_KEY="make-1")
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "secret": None}  # the same key, made once
    assert ApiKey.objects.filter(retailer=retailer).count() == 2
    secret = first.json()["secret"].encode()
    assert all(secret not in bytes(row.response_body) for row in IdempotencyKey.objects.all())

    rotated = admin.post(f"/api/v1/keys/{admin_key.id}/rotate", {}, format="json", HTTP_IDEMPOTENCY_KEY="rot-1")
    replayed = admin.post(f"/api/v1/keys/{admin_key.id}/rotate", {}, format="json", HTTP_IDEMPOTENCY_KEY="rot-1")
    assert rotated.status_code == replayed.status_code == 201 and replayed.json()["secret"] is None
    assert replayed.json()["id"] == rotated.json()["id"]
