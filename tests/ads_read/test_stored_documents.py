"""Reads from stored documents: the projection stores each ad's answer (AdView.document) and
the query API sends it, alone or joined into list pages, with no serializer run per ad. The
answers stay byte for byte what the DRF serializer path renders from the row's columns."""

import base64
import json
import uuid
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from adplatform.kernel.auth import Caller
from ads_read.api import AdCursorPagination
from ads_read.models import AdView
from ads_read.projections import ads_project
from ads_read.serializers import DOCUMENT_COLUMNS, AdViewSerializer, jsonb_ordered, stored_document
from ads_write.models import Finding
from ads_write.services.appeals import appeal_decide, appeal_submit
from ads_write.services.decisions import ad_decide
from tests.factories import AdViewFactory, held_ad, submit_ad

pytestmark = pytest.mark.django_db

# Text the JSON renderer treats specially: non-ASCII (sent as UTF-8), the line separators it
# escapes (U+2028, U+2029), quotes, backslashes, control characters.
ODD = 'Zoë’s “best” naïve café — 雪 \u2028 \u2029 \\ " \t'
EVIDENCE = {
    "zz": {"b": 1, "a": [1.5, 1e16, 1e-7, None, True]},
    "é": "ü",
    "term": ODD,
    "a": [],
    "count": 3,
}


def old_rendering(ad_id) -> bytes:
    """The answer by id as the serializer path renders it from the row's columns."""
    return JSONRenderer().render(AdViewSerializer(AdView.objects.get(id=ad_id)).data)


def old_page(ad_ids, links) -> bytes:
    rows = AdView.objects.filter(id__in=ad_ids).order_by("-id").values(*DOCUMENT_COLUMNS)
    return JSONRenderer().render({"results": AdViewSerializer(rows, many=True).data, **links})


@pytest.fixture
def ads(retailer):
    """Ads of every state, made by the write side and projected: unicode, nulls, prices,
    findings with nested evidence, staff decisions, open and decided appeals."""
    caller = Caller(retailer=retailer, key_prefix="test")
    approved = submit_ad(retailer, external_ref="ok", headline="Trail shoes for Zoë — 雪")
    bare = submit_ad(retailer, external_ref="", display_url=None, price=None, description="Plain.")
    rejected = submit_ad(retailer, external_ref="rej", category="tobacco", headline="Fine cigars", display_url=None)
    appealed = submit_ad(retailer, external_ref="app", category="tobacco", headline="Cigars, again")
    held = held_ad(retailer, evidence=EVIDENCE, external_ref="held", description=ODD[:90])
    decided = held_ad(retailer, external_ref="dec")
    ad_decide(ad_id=decided.id, status="approved", reviewer="staff:zoë", reason=ODD)
    open_appeal = appeal_submit(caller=caller, ad_id=rejected.id, message=ODD)
    closed = appeal_submit(caller=caller, ad_id=appealed.id, message="Please look again.")
    appeal_decide(
        appeal_id=closed.id,
        status="rejected",
        reviewer="staff:kim",
        reason_code="PROHIBITED_CONTENT",
        reason="Still prohibited in this country.",
        dispositions={str(f.id): "upheld" for f in Finding.objects.filter(verdict__ad_id=appealed.id)},
    )
    ids = [ad.id for ad in (approved, bare, rejected, appealed, held, decided)]
    ads_project(ad_ids=ids)
    assert open_appeal.ad_id == rejected.id
    return ids


def test_the_projection_stores_what_the_serializer_path_renders_by_id_and_in_lists(api, ads):
    rows = {row.id: row for row in AdView.objects.filter(id__in=ads)}
    assert {row.status for row in rows.values()} == {"approved", "rejected", "needs_review"}
    assert any(row.appeal and row.appeal["decision"] for row in rows.values())
    assert any(row.appeal and not row.appeal["decision"] for row in rows.values())
    assert any(row.price_amount is None and row.display_url == "" for row in rows.values())
    for ad_id in ads:
        assert bytes(rows[ad_id].document) == old_rendering(ad_id), ad_id
        answer = api.get(f"/api/v1/ads/{ad_id}")
        assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
        assert answer.content == old_rendering(ad_id), ad_id
        # Sent past DRF's Response (api.py), still with the headers every answer has.
        assert answer["ETag"] == f'"{rows[ad_id].version}"' and answer["Allow"] == "GET, PATCH, HEAD, OPTIONS"
        assert answer["X-Request-ID"] and answer["RateLimit-Limit"]

    first = api.get("/api/v1/ads", {"page_size": 4})
    # A page too goes past DRF's Response (serializers.document_response), with the same headers.
    assert first["Content-Type"] == "application/json" and first["Allow"] == "GET, POST, HEAD, OPTIONS"
    assert first["X-Request-ID"] and first["RateLimit-Limit"]
    body = first.json()
    listed = [uuid.UUID(ad["id"]) for ad in body["results"]]
    assert len(listed) == 4 and body["next"]
    assert first.content == old_page(listed, {"next": body["next"], "next_cursor": body["next_cursor"]})
    rest = api.get(body["next"])
    listed_rest = [uuid.UUID(ad["id"]) for ad in rest.json()["results"]]
    assert sorted(listed + listed_rest) == sorted(ads)
    assert rest.content == old_page(listed_rest, {"next": None, "next_cursor": None})
    failed = api.get("/api/v1/ads/failed")
    rejected = [ad_id for ad_id in ads if rows[ad_id].status == "rejected"]
    assert failed.content == old_page(rejected, {"next": None, "next_cursor": None})
    filtered = api.get("/api/v1/ads", {"status": "needs_review"})
    held = [ad_id for ad_id in ads if rows[ad_id].status == "needs_review"]
    assert filtered.content == old_page(held, {"next": None, "next_cursor": None})


def test_the_factories_rows_and_an_empty_page_render_as_before(api, retailer):
    AdViewFactory(retailer_id=retailer.id, price_amount="9.9", price_currency="EUR", headline=ODD[:90])
    AdViewFactory(retailer_id=retailer.id, status="approved", findings=[], reviewed_at=None, decided_by="zoë")
    for row in AdView.objects.all():
        assert api.get(f"/api/v1/ads/{row.id}").content == old_rendering(row.id)
    empty = api.get("/api/v1/ads", {"status": "needs_review"})
    assert empty.content == b'{"results":[],"next":null,"next_cursor":null}'


def test_indented_json_is_rendered_as_drf_renders_the_document(api, ads):
    accept = {"HTTP_ACCEPT": "application/json; indent=2"}
    by_id = api.get(f"/api/v1/ads/{ads[4]}", **accept)
    assert by_id.content == JSONRenderer().render(json.loads(old_rendering(ads[4])), "application/json; indent=2")
    assert b'\n  "id": ' in by_id.content
    page = api.get("/api/v1/ads", **accept)
    assert b'\n  "results": [' in page.content and len(page.json()["results"]) == len(ads)


def test_rows_projected_before_documents_are_rendered_from_their_columns_until_a_rebuild(api, ads):
    # What the migration leaves: rows without a document.
    AdView.objects.update(document=None)
    answers = {ad_id: api.get(f"/api/v1/ads/{ad_id}").content for ad_id in ads}
    page = api.get("/api/v1/ads").content
    for ad_id in ads:
        assert answers[ad_id] == old_rendering(ad_id)

    call_command("rebuild_read_model", stdout=StringIO(), stderr=StringIO())

    assert not AdView.objects.filter(document__isnull=True).exists()
    for ad_id in ads:
        assert bytes(AdView.objects.get(id=ad_id).document) == answers[ad_id]
        assert api.get(f"/api/v1/ads/{ad_id}").content == answers[ad_id]
    assert api.get("/api/v1/ads").content == page


def test_a_valid_status_filter_alone_reads_its_page_without_the_filterset(api, retailer, monkeypatch):
    from ads_read import selectors

    AdViewFactory(retailer_id=retailer.id, status="rejected")

    def unused(**kwargs):
        raise AssertionError("the FilterSet's queryset was built")

    monkeypatch.setattr(selectors, "ad_list", unused)
    assert len(api.get("/api/v1/ads", {"status": "rejected", "page_size": 50}).json()["results"]) == 1


def test_a_status_filter_with_a_bad_value_or_beside_other_filters_goes_through_the_filterset(api, retailer):
    AdViewFactory(retailer_id=retailer.id, status="rejected", country="US")
    AdViewFactory(retailer_id=retailer.id, status="rejected", country="DE")
    bad = api.get("/api/v1/ads", {"status": ["rejected", "nonsense"]})
    assert bad.status_code == 400 and "status" in str(bad.json())
    both = api.get("/api/v1/ads", {"status": "rejected", "country": "DE"}).json()["results"]
    assert [ad["country"] for ad in both] == ["DE"]


def test_a_list_page_mixing_stored_and_missing_documents_keeps_its_order(api, retailer):
    rows = [AdViewFactory(retailer_id=retailer.id, stored=(n % 2 == 0)) for n in range(5)]
    assert AdView.objects.filter(document__isnull=True).count() == 2
    page = api.get("/api/v1/ads", {"page_size": 5})
    assert page.content == old_page([row.id for row in rows], {"next": None, "next_cursor": None})


@pytest.mark.skipif(connection.vendor != "postgresql", reason="jsonb is PostgreSQL's")
def test_jsonb_ordered_is_how_postgresql_gives_json_back():
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text", [json.dumps(EVIDENCE)])
        (text,) = cursor.fetchone()
    assert json.dumps(jsonb_ordered(EVIDENCE)) == json.dumps(json.loads(text))
    assert list(jsonb_ordered(EVIDENCE)) == ["a", "zz", "é", "term", "count"]


def test_the_stored_document_is_the_rendered_row():
    row = AdViewFactory.build(findings=[{"code": "X", "evidence": EVIDENCE}], appeal=None)
    document = json.loads(stored_document(row, vendor="sqlite"))
    assert document["findings"][0]["evidence"] == EVIDENCE
    assert list(document) == list(AdViewSerializer._declared_fields)


def drf_page(url: str, queryset) -> bytes:
    """What DRF's CursorPagination over a queryset makes of the request `url`."""
    request = Request(APIRequestFactory().get(url))
    paginator = AdCursorPagination()
    page = paginator.paginate_queryset(queryset.values("id", "document"), request)
    results = [json.loads(bytes(row["document"])) for row in page]
    return JSONRenderer().render({"results": results, **paginator.page_links()})


def cursor(**fields) -> str:
    return base64.b64encode(urlencode(fields).encode()).decode()


@pytest.mark.parametrize(
    "path, statuses",
    [
        ("/api/v1/ads?", None),
        ("/api/v1/ads/failed?", ["rejected"]),
        ("/api/v1/ads?status=rejected&", ["rejected"]),
        ("/api/v1/ads?status=approved&status=needs_review&status=approved&", ["approved", "needs_review"]),
    ],
)
def test_unfiltered_pages_by_their_own_statement_are_drfs_pages_with_the_same_cursors(api, retailer, path, statuses):
    rows = [
        AdViewFactory(retailer_id=retailer.id, status=["approved", "rejected", "needs_review"][n % 3])
        for n in range(12)
    ]
    AdViewFactory(status="rejected")  # another retailer's
    queryset = AdView.objects.filter(retailer_id=retailer.id, **({"status__in": statuses} if statuses else {}))
    middle = sorted(str(row.id) for row in rows)[5]
    urls = [
        f"{path}page_size=3",
        f"{path}page_size=2&cursor={cursor(p=middle)}",
        f"{path}page_size=2&cursor={cursor(o=2, p=middle)}",  # an offset (DRF's, for ties)
        f"{path}cursor={cursor(o=1)}",
        f"{path}page_size=500&cursor={cursor(p=sorted(str(row.id) for row in rows)[0])}",  # past the last
    ]
    page = api.get(urls[0]).json()
    while page["next"]:  # every page of a walk, by its `next` links
        urls.append(page["next"])
        page = api.get(page["next"]).json()
    assert len(urls) >= 6  # at least one `next` followed
    assert api.get(urls[0]).json()["results"]
    for url in urls:
        assert api.get(url).content == drf_page(url, queryset), url
