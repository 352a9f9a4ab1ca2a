"""Per-retailer daily counts: filled by the projection, read by GET /api/v1/stats."""

from datetime import date, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from adplatform.kernel import ids
from adplatform.kernel.auth import Caller
from adplatform.kernel.events import Event
from ads_read.models import RetailerDailyStats
from ads_read.projections import ads_project
from ads_write.services import decisions, events, submissions
from ads_write.validation.basic import validate_basic
from tests.conftest import client_for
from tests.factories import ad_payload

pytestmark = pytest.mark.django_db


def intake_events(retailer, *payloads, days_ago=0) -> list[Event]:
    """Intake events of ads submitted `days_ago`, as the request path makes them."""
    submitted = (timezone.now() - timedelta(days=days_ago)).isoformat()
    actor = Caller(retailer=retailer, key_prefix="test").actor
    return [
        Event(
            type="ad.submitted",
            ad_id=str(ids.new_id()),
            retailer_id=str(retailer.id),
            version=1,
            occurred_at=submitted,
            data={**events.ad_event_data(validate_basic(p).ad), "submitted_at": submitted, "actor": actor},
        )
        for p in payloads
    ]


def store(events) -> list[str]:
    """Store the ads as the intake consumer does before judging them (pending)."""
    with transaction.atomic():
        submissions.submissions_store(events=events)
    return [e.ad_id for e in events]


def counts(retailer, day=None) -> dict:
    day = day or timezone.now().date()
    rows = RetailerDailyStats.objects.filter(retailer_id=retailer.id, day=day, count__gt=0)
    return dict(rows.values_list("status", "count"))


def test_the_projection_moves_the_counts_of_the_days_it_touches(retailer):
    events = intake_events(
        retailer, ad_payload(), ad_payload(category="tobacco"), ad_payload(headline="Guaranteed comfort")
    )
    ids = store(events)
    ads_project(ad_ids=ids)
    assert counts(retailer) == {"pending": 3}

    ads_project(ad_ids=submissions.submissions_process(events=events).ids)
    assert counts(retailer) == {"approved": 1, "rejected": 1, "needs_review": 1}
    assert RetailerDailyStats.objects.get(retailer_id=retailer.id, status="pending").count == 0

    ads_project(ad_ids=ids)  # a redelivered projection changes nothing
    ads_project(ad_ids=list(reversed(ids)))
    assert counts(retailer) == {"approved": 1, "rejected": 1, "needs_review": 1}


def test_a_staff_decision_moves_the_count(retailer):
    events = intake_events(retailer, ad_payload(headline="Guaranteed comfort"))
    ads_project(ad_ids=submissions.submissions_process(events=events).ids)
    assert counts(retailer) == {"needs_review": 1}
    decisions.ad_decide(ad_id=events[0].ad_id, status="approved", reviewer="alice", reason="Backed by a warranty.")
    ads_project(ad_ids=[events[0].ad_id])
    assert counts(retailer) == {"approved": 1}


def test_the_stats_api_gives_the_callers_days_newest_first_with_cursor_pages(retailer, other_retailer):
    ads_project(ad_ids=store(intake_events(retailer, ad_payload(), ad_payload())))
    ads_project(ad_ids=store(intake_events(retailer, ad_payload(), days_ago=3)))
    ads_project(ad_ids=store(intake_events(retailer, ad_payload(), days_ago=45)))  # outside the default 30 days
    ads_project(ad_ids=store(intake_events(other_retailer, ad_payload())))
    api = client_for(retailer)
    today = timezone.now().date()

    body = api.get("/api/v1/stats").json()
    assert (body["from"], body["to"]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())
    assert [(d["day"], d["pending"], d["total"]) for d in body["results"]] == [
        (today.isoformat(), 2, 2),
        ((today - timedelta(days=3)).isoformat(), 1, 1),
    ]
    assert body["results"][0] == {
        "day": today.isoformat(),
        "pending": 2,
        "approved": 0,
        "rejected": 0,
        "needs_review": 0,
        "withdrawn": 0,
        "total": 2,
    }

    first = api.get("/api/v1/stats", {"page_size": 1, "from": (today - timedelta(days=60)).isoformat()}).json()
    days = [d["day"] for d in first["results"]]
    page = first
    while page["next"]:
        page = api.get(page["next"]).json()
        days += [d["day"] for d in page["results"]]
    assert days == [
        today.isoformat(),
        (today - timedelta(days=3)).isoformat(),
        (today - timedelta(days=45)).isoformat(),
    ]

    only = api.get(
        "/api/v1/stats",
        {"from": (today - timedelta(days=3)).isoformat(), "to": (today - timedelta(days=1)).isoformat()},
    )
    assert [d["day"] for d in only.json()["results"]] == [(today - timedelta(days=3)).isoformat()]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"to": "2026-13-01"},
        {"from": "2026-11-02", "to": "2026-11-01"},
        {"from": "2024-01-01", "to": "2026-01-01"},
    ],
)
def test_bad_stats_ranges_are_400(api, params):
    response = api.get("/api/v1/stats", params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json" and response.json()["errors"]


def test_the_earliest_dates_do_not_overflow(api):
    response = api.get("/api/v1/stats", {"to": date.min.isoformat()})
    assert response.status_code == 200 and response.json()["from"] == date.min.isoformat()


def test_counts_move_by_the_rows_applied_without_recounting_the_day(retailer):
    ads_project(ad_ids=submissions.submissions_process(events=intake_events(retailer, ad_payload())).ids)
    day = timezone.now().date()
    # Stand-in for a day with many ads: the next projection adds to the count, whatever it is.
    RetailerDailyStats.objects.filter(retailer_id=retailer.id, day=day, status="approved").update(count=50_000)

    ads_project(ad_ids=submissions.submissions_process(events=intake_events(retailer, ad_payload(), ad_payload())).ids)

    assert counts(retailer) == {"approved": 50_002}


def test_a_count_never_drops_below_zero(retailer):
    events = intake_events(retailer, ad_payload(headline="Guaranteed comfort"))
    ads_project(ad_ids=submissions.submissions_process(events=events).ids)
    RetailerDailyStats.objects.filter(retailer_id=retailer.id, status="needs_review").update(count=0)  # drifted

    decisions.ad_decide(ad_id=events[0].ad_id, status="rejected", reviewer="alice", reason="No warranty.")
    ads_project(ad_ids=[events[0].ad_id])

    assert counts(retailer) == {"rejected": 1}
    assert RetailerDailyStats.objects.get(retailer_id=retailer.id, status="needs_review").count == 0
