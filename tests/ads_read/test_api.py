"""The query API's tenancy: a retailer reads only its own ads; anything else is a 404."""

import json

import pytest
from django.utils import timezone

from adplatform.kernel.ids import new_id
from tests.conftest import client_for
from tests.factories import ad_payload

pytestmark = pytest.mark.django_db


def test_a_retailer_gets_404_for_every_read_of_another_retailers_ads(retailer, other_retailer, intake_mode):
    mine, theirs = client_for(retailer), client_for(other_retailer)
    intake_mode("sync")  # judged and projected inside the request
    their_final = [theirs.post("/api/v1/ads", ad_payload(category=c, external_ref=ref), format="json").json()["id"]
                   for c, ref in (("sports", "shoes"), ("tobacco", "cigars"))]
    intake_mode("direct")  # accepted, still pending (only a marker on the read side)
    batch = theirs.generic("POST", "/api/v1/ads/batch", json.dumps({"ads": [ad_payload()]}), content_type="application/json")
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
