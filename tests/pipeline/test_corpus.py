"""The labelled corpus (tests/data/ad_corpus.json) through the real pipeline:
HTTP → broker → Celery workers → read model → read API, every ad with its expected
status and exactly its expected finding codes."""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.factories import RetailerFactory

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

CORPUS = json.loads((Path(__file__).parent.parent / "data" / "ad_corpus.json").read_text())


def test_the_corpus_ends_as_labelled(live_api_for, intake_mode):
    intake_mode("direct")
    clients = {name: live_api_for(RetailerFactory(name=name)) for name in sorted({item["retailer"] for item in CORPUS})}

    def submit(item):
        response = clients[item["retailer"]].post("/api/v1/ads", item["ad"])
        assert response.status_code == 202, (item["name"], response.text)
        return item, response.json()["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        submitted = list(pool.map(submit, CORPUS))

    mismatches = []
    for item, ad_id in submitted:
        ad = clients[item["retailer"]].wait_final(ad_id, timeout=120)
        got = (ad["status"], sorted({f["code"] for f in ad["findings"]}))
        want = (item["expected_status"], sorted(set(item["expected_codes"])))
        if got != want:
            mismatches.append(f"{item['name']}: got {got}, want {want}")
    assert not mismatches, "\n".join(mismatches)
    assert len(submitted) >= 150
