"""Every input gets an answer from the API contract (issue 15): the inputs that reached a 500,
were read wrongly or ignored in silence each get the documented answer, a problem document
where it is an error. Chunked bodies are tested against a real gunicorn, the server that
decodes them."""

import base64
import http.client
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from adplatform.problems import PROBLEM_BASE, PROBLEM_CONTENT_TYPE
from notifications.models import WebhookEndpoint
from tests.conftest import worker_env
from tests.factories import AdViewFactory, ad_payload

pytestmark = pytest.mark.django_db


def assert_problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body = json.loads(response.content)
    assert body["status"] == status and body["type"].startswith(PROBLEM_BASE)
    if slug:
        assert body["type"] == PROBLEM_BASE + slug, body
    return body


def cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def endpoint(retailer):
    return WebhookEndpoint.objects.create(retailer=retailer, url="https://hooks.example/x", events=["ad.rejected"])


LISTS = ["/api/v1/ads", "/api/v1/ads/failed", "/api/v1/webhooks", "/api/v1/stats", "deliveries"]


def list_url(path: str, endpoint) -> str:
    return f"/api/v1/webhooks/{endpoint.id}/deliveries" if path == "deliveries" else path


# --- cursors and page sizes --------------------------------------------------------------
@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    "raw", ["p=abc&o=1", "p=2026-13-45", "p=99999999999999999999999", "p=", "r=1", "r=1&o=3&p=0000", "o=-1", None]
)
def test_a_cursor_that_decodes_to_something_the_list_never_issued_is_a_400(api, retailer, endpoint, path, raw):
    AdViewFactory(retailer_id=retailer.id)
    value = cursor(raw) if raw is not None else "not base64!"
    body = assert_problem(api.get(list_url(path, endpoint), {"cursor": value}), 400, "bad-request")
    assert [e["field"] for e in body["errors"]] == ["cursor"]


@pytest.mark.parametrize("path", ["/api/v1/ads", "/api/v1/ads/failed", "/api/v1/webhooks", "/api/v1/stats"])
def test_a_position_of_the_wrong_type_for_the_list_is_a_400(api, path):
    """`p=0000` decodes, but these lists are ordered by a UUID or a date (it was a 500)."""
    body = assert_problem(api.get(path, {"cursor": cursor("p=0000")}), 400, "bad-request")
    assert [e["field"] for e in body["errors"]] == ["cursor"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("size", ["-1", "0", "abc", "1.5", "1e3", "", " 5", "100000"])
def test_a_page_size_that_is_not_a_whole_number_in_range_is_a_400(api, endpoint, path, size):
    body = assert_problem(api.get(list_url(path, endpoint), {"page_size": size}), 400, "bad-request")
    assert [e["field"] for e in body["errors"]] == ["page_size"]


@pytest.mark.parametrize("path", ["/api/v1/ads", "/api/v1/ads/failed", "/api/v1/webhooks"])
def test_next_cursor_is_the_cursor_of_next_and_pages_to_the_end(api, retailer, path):
    for n in range(3):
        AdViewFactory(retailer_id=retailer.id)
        WebhookEndpoint.objects.create(retailer=retailer, url=f"https://hooks.example/{n}", events=["ad.rejected"])
    page, seen = api.get(path, {"page_size": 2}).json(), []
    while True:
        seen += [item["id"] for item in page["results"]]
        if page["next"] is None:
            break
        assert parse_qs(urlsplit(page["next"]).query)["cursor"] == [page["next_cursor"]]
        page = api.get(path, {"page_size": 2, "cursor": page["next_cursor"]}).json()
    assert page["next_cursor"] is None and len(seen) == len(set(seen)) == 3


@pytest.mark.parametrize("name", ["status", "category", "country", "external_ref", "finding_code", "submitted_after"])
def test_an_empty_filter_is_a_400_not_the_whole_list(api, name):
    body = assert_problem(api.get("/api/v1/ads", {name: ""}), 400, "bad-request")
    assert [e["field"] for e in body["errors"]] == [name]


# --- bodies -----------------------------------------------------------------------------
BODY_OPERATIONS = [
    ("post", "/api/v1/ads"),
    ("post", "/api/v1/ads?validate_only=true"),
    ("post", "/api/v1/ads/batch"),
    ("post", "/api/v1/webhooks"),
    ("patch", "/api/v1/settings"),
]


@pytest.mark.parametrize("method, path", BODY_OPERATIONS)
@pytest.mark.parametrize("raw", [b'{"headline":"\xff"}', b'{"ads":[{"headline":"\xc3\x28"}]}', b"\xfe\xff"])
def test_a_body_that_is_not_utf8_is_a_400(api, method, path, raw):
    response = getattr(api, method)(path, data=raw, content_type="application/json")
    assert "UTF-8" in assert_problem(response, 400, "bad-request")["detail"] or raw == b"\xfe\xff"


# --- the CSV's dates --------------------------------------------------------------------
@pytest.mark.parametrize(
    "zone, day, neighbour",
    [
        ("UTC", "9999-12-31", "9999-12-30"),
        ("Asia/Tokyo", "0001-01-01", "0001-01-02"),
        ("America/New_York", "9999-12-31", "0001-01-01"),
    ],
)
def test_a_day_at_the_calendars_ends_is_a_400_not_a_broken_stream(api, retailer, zone, day, neighbour):
    retailer.timezone = zone
    retailer.save()
    body = assert_problem(api.get("/api/v1/reports/failed-ads.csv", {"date": day}), 400, "invalid-date")
    assert body["errors"][0]["field"] == "date"
    response = api.get("/api/v1/reports/failed-ads.csv", {"date": neighbour})  # still within the calendar
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"status,ad_id")


# --- methods and negotiation ------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/ads", "/api/v1/ads/batch", "/api/v1/settings", "/api/v1/stats"])
def test_options_answers_with_the_methods_it_lists_in_allow(api, path):
    response = api.options(path)
    assert response.status_code == 200
    allowed = [m.strip() for m in response["Allow"].split(",")]
    assert "OPTIONS" in allowed and response.json()["methods"] == allowed


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
@pytest.mark.parametrize("method", ["post", "put", "delete", "trace"])
def test_the_probes_answer_other_methods_with_a_405_problem(path, method):
    client = Client(enforce_csrf_checks=True)  # as a real client meets the CSRF check
    response = client.generic(method.upper(), path)
    assert_problem(response, 405, "method-not-allowed")
    assert response["Allow"] == "GET, HEAD"
    assert client.get("/healthz").json() == {"status": "ok"} and client.head("/healthz").status_code == 200


@pytest.mark.parametrize("accept", ["application/json;q=0", "*/*;q=0", "application/json;q=0, */*", "text/html"])
def test_an_accept_header_that_refuses_json_is_a_406(api, accept):
    assert_problem(api.get("/api/v1/stats", HTTP_ACCEPT=accept), 406, "not-acceptable")
    for takes_json in ("application/json;q=0.1", "text/html;q=0, application/json", "*/*"):
        response = api.get("/api/v1/stats", HTTP_ACCEPT=takes_json)
        assert response.status_code == 200 and response["Content-Type"] == "application/json", takes_json


# --- chunked bodies, through a real gunicorn --------------------------------------------
@pytest.fixture(scope="module")
def gunicorn(django_db_setup, django_db_blocker, tmp_path_factory):
    """gunicorn as the Procfile runs it, against the test database, with a batch body limit
    of 256 KiB so that an oversized chunked body stays small."""
    from tests.faults.conftest import WebServer

    server = WebServer(
        env=worker_env(AD_INTAKE_MODE="cqrs", API_MAX_BATCH_BODY_BYTES=str(256 * 1024)),
        log_path=tmp_path_factory.mktemp("gunicorn") / "web.log",
    )
    try:
        yield server
    finally:
        server.kill()


def send_chunked(
    server, path: str, body: bytes, *, key: str, method: str = "POST", chunk: int = 4096
) -> tuple[int, dict, bytes]:
    """Send `body` with Transfer-Encoding: chunked (no Content-Length), as http.client sends
    an iterable body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        parts = (body[i : i + chunk] for i in range(0, len(body), chunk))
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        connection.request(method, path, body=parts, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_chunked_bodies_are_read_with_the_same_limits_as_sized_ones(gunicorn, retailer):
    from adplatform.kernel.services import api_key_create

    key = api_key_create(retailer=retailer)

    status, headers, body = send_chunked(gunicorn, "/api/v1/ads", json.dumps(ad_payload()).encode(), key=key)
    assert status == 202, body
    assert json.loads(body)["status"] == "pending" and headers["Location"].startswith("/api/v1/ads/")

    batch = json.dumps({"ads": [ad_payload(external_ref=f"SKU-{i}") for i in range(20)]}).encode()
    status, _, body = send_chunked(gunicorn, "/api/v1/ads/batch", batch, key=key)
    assert status == 202 and json.loads(body)["accepted_count"] == 20, body

    # Over the single-ad limit (64 KiB), and over the largest body taken anywhere (the batch's).
    big_ad = json.dumps(ad_payload(description="x" * 100_000)).encode()
    big_batch = json.dumps({"ads": [ad_payload(description="y" * 250)] * 1000}).encode()
    oversized = [("POST", "/api/v1/ads", big_ad), ("POST", "/api/v1/ads/batch", big_batch)]
    for method, path, raw in [*oversized, ("PATCH", "/api/v1/settings", big_batch)]:
        status, headers, body = send_chunked(gunicorn, path, raw, key=key, method=method)
        assert status == 413, (path, status, body[:300])
        assert headers["Content-Type"] == PROBLEM_CONTENT_TYPE
        assert json.loads(body)["type"] == PROBLEM_BASE + "payload-too-large"

    status, _, body = send_chunked(
        gunicorn, "/api/v1/settings", b'{"timezone": "Europe/Berlin"}', key=key, method="PATCH"
    )
    assert status == 200 and json.loads(body)["timezone"] == "Europe/Berlin", body
