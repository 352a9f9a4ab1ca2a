"""Every error is RFC 9457 problem details with a registered type; bad input never a 500."""

import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from adplatform.problems import DEFAULT_TYPES, PROBLEM_BASE, PROBLEM_TYPES
from tests.factories import ad_payload

pytestmark = pytest.mark.django_db

SUBMIT_PATHS = ["/api/v1/ads", "/api/v1/ads/batch"]


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == PROBLEM_BASE + slug and problem["status"] == status
    assert problem["title"] == PROBLEM_TYPES[slug].title and problem["detail"]
    assert problem["instance"] == response.wsgi_request.path
    assert problem["request_id"] == response["X-Request-ID"]
    return problem


def test_every_default_type_is_registered_with_its_status():
    for status, slug in DEFAULT_TYPES.items():
        assert PROBLEM_TYPES[slug].status == status


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v2/ads", "/api/v1/ads/1/2", "/nowhere"])
def test_unknown_urls_are_404_problems(api, path):
    assert_problem(api.get(path), 404, "not-found")


def test_an_unknown_or_invalid_ad_id_is_404(api):
    assert_problem(api.get("/api/v1/ads/not-a-uuid"), 404, "not-found")
    assert_problem(api.get("/api/v1/ads/019abc12-3456-7def-8abc-0123456789ab"), 404, "not-found")


@pytest.mark.parametrize(
    "method, path",
    [("get", "/api/v1/ads/batch"), ("delete", "/api/v1/ads"), ("put", "/api/v1/stats"), ("trace", "/api/v1/ads")],
)
def test_a_wrong_method_is_405_with_allow(api, method, path):
    response = getattr(api, method)(path)
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response["Allow"] or "POST" in response["Allow"]


@pytest.mark.parametrize("path", SUBMIT_PATHS)
def test_no_credentials_is_401_and_non_json_is_415(client, api, path):
    response = assert_problem(client.post(path, {}, content_type="application/json"), 401, "unauthorized")
    assert response["detail"]
    assert_problem(
        api.generic("POST", path, "headline=x", content_type="application/x-www-form-urlencoded"),
        415,
        "unsupported-media-type",
    )
    assert_problem(api.generic("POST", path, "<ad/>", content_type="text/xml"), 415, "unsupported-media-type")


def test_a_single_ad_over_64_kib_is_413_even_without_content_length(api):
    body = json.dumps(ad_payload(description="x" * (65 * 1024)))
    assert_problem(api.generic("POST", "/api/v1/ads", body, content_type="application/json"), 413, "payload-too-large")


def test_any_json_body_over_the_limit_is_413(api):
    body = json.dumps({"report_contacts": ["x" * (65 * 1024)]})
    assert_problem(
        api.generic("PATCH", "/api/v1/settings", body, content_type="application/json"), 413, "payload-too-large"
    )


@pytest.mark.parametrize("path", SUBMIT_PATHS)
@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[" * 60_000,
        b'{"a":' * 6_000 + b"1" + b"}" * 6_000,
        b"\xff\xfe",
        b'"\\ud800"',
        b"",
        b"NaN",
        b"1e999",
    ],
)
def test_undecodable_bodies_are_400_not_500(api, path, body):
    assert_problem(api.generic("POST", path, body, content_type="application/json"), 400, "bad-request")


def test_a_bad_cursor_or_filter_is_400(api):
    assert_problem(api.get("/api/v1/ads", {"cursor": "garbage"}), 400, "bad-request")
    problem = assert_problem(api.get("/api/v1/ads", {"status": "lost"}), 400, "bad-request")
    assert problem["errors"][0]["field"] == "status"
    assert_problem(api.get("/api/v1/ads", {"submitted_after": "yesterday"}), 400, "bad-request")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
AD_FIELDS = st.sampled_from(sorted(ad_payload()) + ["price", "target_min_age", "starts_at", "ends_at", "disclosure"])
AD_LIKE = st.dictionaries(AD_FIELDS, JSON, max_size=10).map(lambda overrides: {**ad_payload(), **overrides})


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(JSON, AD_LIKE, st.lists(AD_LIKE, max_size=3).map(lambda ads: {"ads": ads})),
    path=st.sampled_from(SUBMIT_PATHS),
)
def test_fuzzed_bodies_never_get_a_server_error(api, intake_mode, body, path):
    intake_mode("cqrs")
    response = api.generic("POST", path, json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201, 202, 400, 422), response.content[:300]
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["type"].removeprefix(PROBLEM_BASE) in PROBLEM_TYPES


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_fuzzed_bytes_never_get_a_server_error(api, raw):
    response = api.generic("POST", "/api/v1/ads?validate_only=true", raw, content_type="application/json")
    assert response.status_code in (200, 400), response.content[:300]


def test_a_fault_on_our_side_is_a_500_problem_with_the_request_id(api, monkeypatch):
    from ads_read import selectors

    def broken(**kwargs):
        raise RuntimeError("a bug, not bad input")

    monkeypatch.setattr(selectors, "ad_page", broken)  # the unfiltered list's page
    api.raise_request_exception = False  # answer as the server would, instead of raising in the test
    problem = assert_problem(api.get("/api/v1/ads", HTTP_X_REQUEST_ID="trace-500"), 500, "internal")
    assert problem["request_id"] == "trace-500" and "a bug" not in problem["detail"]  # no internals leak
