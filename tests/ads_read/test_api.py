"""The query API: tenancy (a retailer reads only its own ads; anything else is a 404), and the
list's filters."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from adplatform.kernel.ids import new_id
from tests.conftest import client_for
from tests.factories import AdViewFactory, ad_payload

pytestmark = pytest.mark.django_db


def test_a_retailer_gets_404_for_every_read_of_another_retailers_ads(retailer, other_retailer, intake_mode):
    mine, theirs = client_for(retailer), client_for(other_retailer)
    intake_mode("sync")  # judged and projected inside the request
    their_final = [
        theirs.post("/api/v1/ads", ad_payload(category=c, external_ref=ref), format="json").json()["id"]
        for c, ref in (("sports", "shoes"), ("tobacco", "cigars"))
    ]
    intake_mode("direct")  # accepted, still pending (only a marker on the read side)
    batch = theirs.generic(
        "POST", "/api/v1/ads/batch", json.dumps({"ads": [ad_payload()]}), content_type="application/json"
    )
    their_pending = [batch.json()["results"][0]["id"]]
    guesses = [str(new_id()) for _ in range(20)]

    for ad_id in their_final + their_pending + guesses:
        response = mine.get(f"/api/v1/ads/{ad_id}")
        assert response.status_code == 404, ad_id
        assert response.json()["type"].endswith("/not-found")
    for ad_id in their_final + their_pending:
        assert theirs.get(f"/api/v1/ads/{ad_id}").status_code == 200
    assert mine.get("/api/v1/ads").json()["results"] == []
    their_filters = {"external_ref": "cigars", "finding_code": "COMPLIANCE.PROHIBITED_CATEGORY", "status": "rejected"}
    for name, value in their_filters.items():  # a filter narrows the caller's ads, never widens to others'
        assert mine.get("/api/v1/ads", {name: value}).json()["results"] == [], name
        assert len(theirs.get("/api/v1/ads", {name: value}).json()["results"]) == 1, name
    today = {"date": timezone.now().date().isoformat()}
    mine_csv = b"".join(mine.get("/api/v1/reports/failed-ads.csv", today).streaming_content).decode()
    theirs_csv = b"".join(theirs.get("/api/v1/reports/failed-ads.csv", today).streaming_content).decode()
    assert their_final[1] in theirs_csv and len(mine_csv.splitlines()) == 1  # the header alone
    assert mine.get("/api/v1/ads/failed").json()["results"] == []
    assert mine.get("/api/v1/stats").json()["results"] == []
    assert [ad["id"] for ad in theirs.get("/api/v1/ads/failed").json()["results"]] == [their_final[1]]


def test_the_list_filters_combine_and_a_bad_filter_or_cursor_is_400(retailer, other_retailer):
    now = timezone.now()

    def view(ref, hours_ago, **fields):
        return AdViewFactory(
            retailer_id=retailer.id,
            retailer_name=retailer.name,
            external_ref=ref,
            submitted_at=now - timedelta(hours=hours_ago),
            **fields,
        )

    view("a", 3, country="US", category="sports", status="approved", findings=[])
    view("b", 2, country="DE", category="sports", status="rejected")
    view("c", 1, country="US", category="home", status="needs_review")
    AdViewFactory(retailer_id=other_retailer.id, country="US", category="sports")  # not the caller's
    api = client_for(retailer)

    def refs(path="/api/v1/ads", **params):
        response = api.get(path, params)
        assert response.status_code == 200, response.content
        return [ad["external_ref"] for ad in response.json()["results"]]

    assert refs() == ["c", "b", "a"]  # newest first
    assert refs(country="US") == ["c", "a"]
    assert refs(category="sports") == ["b", "a"]
    assert refs(country="US", category="sports") == ["a"]
    assert refs(external_ref="b") == ["b"]
    assert refs(status=["approved", "needs_review"]) == ["c", "a"]
    assert refs(submitted_after=(now - timedelta(minutes=150)).isoformat()) == ["c", "b"]
    assert refs(submitted_before=(now - timedelta(minutes=150)).isoformat()) == ["a"]
    assert refs("/api/v1/ads/failed") == ["b"]

    for params in ({"status": "lost"}, {"submitted_after": "yesterday"}, {"cursor": "not-a-cursor"}):
        response = api.get("/api/v1/ads", params)
        assert response.status_code == 400, params
        assert response["Content-Type"] == "application/problem+json"
