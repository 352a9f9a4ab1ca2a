"""Cursor pagination of the ad lists: stable while new ads arrive between two pages."""

import pytest

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
