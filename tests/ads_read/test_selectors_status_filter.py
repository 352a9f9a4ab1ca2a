"""The status filter of the ad list: right rows, and a plain query the index can serve."""

import pytest

from ads_read.models import AdView
from ads_read.selectors import ad_list
from tests.factories import AdViewFactory

pytestmark = pytest.mark.django_db


def view(retailer, status) -> AdView:
    return AdViewFactory(retailer_id=retailer.id, retailer_name=retailer.name, status=status)


def test_filtering_by_several_statuses_returns_each_matching_ad_once(retailer, other_retailer):
    rejected, held, _ = view(retailer, "rejected"), view(retailer, "needs_review"), view(retailer, "approved")
    view(other_retailer, "rejected")

    ads = ad_list(retailer_id=retailer.id, filters={"status": ["rejected", "needs_review"]}).order_by("-id")

    assert [ad["id"] for ad in ads] == [held.id, rejected.id]
    # No SELECT DISTINCT: with it PostgreSQL left the (retailer_id, status, -id) index aside.
    assert not ads.query.distinct
