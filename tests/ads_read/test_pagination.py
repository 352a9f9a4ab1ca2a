"""Cursor pagination of the ad lists: stable while new ads arrive between two pages, and a
page read in one SELECT of the ads' stored documents."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ads_read.models import AdView
from ads_read.selectors import LISTED_FIELDS
from tests.factories import AdViewFactory

pytestmark = pytest.mark.django_db


def read_all(api, path, first_page_params, between_pages):
    """Every page of a list, calling `between_pages()` after each page but the last."""
    page = api.get(path, first_page_params).json()
    seen = [ad["id"] for ad in page["results"]]
    while page["next"]:
        between_pages()
        page = api.get(page["next"]).json()
        seen += [ad["id"] for ad in page["results"]]
    return seen


@pytest.mark.parametrize("path", ["/api/v1/ads", "/api/v1/ads/failed"])
def test_ads_inserted_while_paging_neither_repeat_nor_hide_the_ones_already_there(api, retailer, path):
    there = [str(AdViewFactory(retailer_id=retailer.id, status="rejected").id) for _ in range(10)]
    arrived = []

    def insert_newer_ads():  # what the projections do while a client pages
        arrived.extend(str(AdViewFactory(retailer_id=retailer.id, status="rejected").id) for _ in range(4))

    seen = read_all(api, path, {"page_size": 3}, insert_newer_ads)
    assert len(arrived) == 12  # three page turns, four new ads before each
    assert len(seen) == len(set(seen))  # offset pagination would repeat ads pushed down by the new ones
    assert [ad_id for ad_id in seen if ad_id in there] == sorted(there, reverse=True)  # each once, newest first
    assert not set(seen) & set(arrived)  # newer than the first page: the client starts over to see them


@pytest.mark.parametrize(
    "path, params",
    [
        ("/api/v1/ads", {}),
        ("/api/v1/ads", {"status": "rejected"}),
        ("/api/v1/ads/failed", {}),
    ],
)
def test_a_list_page_reads_only_the_stored_documents_in_one_select(api, retailer, path, params):
    now = timezone.now()
    AdViewFactory(  # every column of the document set, so a field read from a deferred column shows
        retailer_id=retailer.id,
        price_amount="19.90",
        price_currency="EUR",
        target_min_age=18,
        display_url="nimbus.example",
        starts_at=now,
        ends_at=now + timedelta(days=7),
        decided_at=now,
        decided_by="staff:ana",
        decision_reason="Checked.",
        ruleset_version="2026-11.0",
    )
    AdViewFactory.create_batch(4, retailer_id=retailer.id)
    by_id = {ad.id: api.get(f"/api/v1/ads/{ad.id}").json() for ad in AdView.objects.all()}

    with CaptureQueriesContext(connection) as queries:
        page = api.get(path, {"page_size": 10, **params})
    assert page.status_code == 200
    selects = [q["sql"] for q in queries.captured_queries if "ads_read_adview" in q["sql"]]
    assert len(selects) == 1, selects  # the page in one statement, nothing fetched row by row
    selected = selects[0].split(" FROM ")[0]
    assert selected.count('"ads_read_adview".') == len(LISTED_FIELDS) == 2
    assert '"document"' in selected and "headline" not in selected
    # Each listed document is the ad's full document, as a read by id gives it.
    results = page.json()["results"]
    assert len(results) == 5
    for document in results:
        assert document == by_id[uuid.UUID(document["id"])]
