"""A 1,000-ad batch through the real pipeline: HTTP → broker → Celery workers → read model;
the valid ads reach their final states, the stats count them, and the workers' metrics show
on the web's /metrics."""

import uuid

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from ads_read.models import AdView
from ads_write.models import Ad
from tests.conftest import wait_for
from tests.factories import mixed_batch

# The web and the workers reach PostgreSQL through PgBouncer in transaction mode (tests/pgbouncer.py).
pytestmark = [
    pytest.mark.pipeline,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("through_pgbouncer"),
]


def metric_total(name: str, **labels) -> float:
    """The sum of a metric's samples that carry these labels, as /metrics shows it."""
    with override_settings(METRICS_ALLOWED_NETWORKS=["127.0.0.1/32"]):  # the default lets nobody in
        text = Client().get("/metrics").content.decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def test_a_mixed_batch_of_1000_ends_with_every_valid_ad_judged(live_api, retailer, intake_mode):
    intake_mode("direct")
    retailer.velocity_limit = 10_000  # a thousand ads at once are no fraud here (FRAUD.VELOCITY)
    retailer.save()
    verdicts_before = metric_total("adplatform_verdicts_total", source="engine")
    lags_before = metric_total("adplatform_consistency_lag_seconds_count")
    ads, invalid = mixed_batch(1000)
    for index in range(0, 1000, 50):  # some valid ads that the rules reject
        if index not in invalid:
            ads[index]["category"] = "tobacco"
    rejected = {index for index in range(0, 1000, 50) if index not in invalid}

    response = live_api.post("/api/v1/ads/batch", {"ads": ads})
    assert response.status_code == 202, response.text[:500]
    results = response.json()["results"]
    accepted = {r["index"]: r["id"] for r in results if "id" in r}
    assert set(accepted) == set(range(1000)) - invalid

    def all_final():
        return AdView.objects.filter(id__in=accepted.values()).exclude(status="pending").count() == len(accepted)

    wait_for(all_final, timeout=180, interval=0.5, what="every accepted ad to reach a final state")
    statuses = dict(AdView.objects.filter(id__in=accepted.values()).values_list("id", "status"))
    for index, ad_id in accepted.items():
        assert statuses[uuid.UUID(ad_id)] == ("rejected" if index in rejected else "approved"), index
    assert Ad.objects.count() == len(accepted)

    today = live_api.get("/api/v1/stats").json()["results"][0]
    assert today["day"] == timezone.now().date().isoformat()
    assert (today["approved"], today["rejected"], today["pending"]) == (len(accepted) - len(rejected), len(rejected), 0)

    # Verdicts and lags are counted in the worker processes only (nothing is judged or
    # projected on the request path in direct mode); the web's /metrics shows them.
    assert metric_total("adplatform_verdicts_total", source="engine") - verdicts_before >= len(accepted)
    assert metric_total("adplatform_consistency_lag_seconds_count") - lags_before >= len(accepted)
