"""The intake consumer projects the ads it stores from what it holds (ads_project_judged),
not by reading them back: its rows must be those the reading projection makes of the same
ads, column for column and document byte for byte."""

import uuid

import pytest
from django.db import transaction

from adplatform.kernel.events import PROJECT_ADS_TASK
from ads_read.models import AdView
from ads_read.projections import ads_project, ads_project_judged
from ads_write import tasks
from ads_write.services.submissions import submissions_process, submissions_store
from ads_write.validation.basic import validate_basic
from tests.factories import ad_payload, intake_event

pytestmark = pytest.mark.django_db(transaction=True)

# Ads the engine judges every way, in text the renderer and jsonb treat specially.
PAYLOADS = [
    ad_payload(headline="Trail shoes for Zoë — 雪 \u2028", external_ref="unicode"),
    ad_payload(external_ref="", display_url=None, price=None, description='Plain "quoted" \\ text.'),
    ad_payload(category="tobacco", headline="Fine cigars", external_ref="rejected"),
    ad_payload(headline="Guaranteed results, the best shoes ever", external_ref="held"),
    ad_payload(headline="Gυaranteed results", external_ref="look-alike"),  # a Greek upsilon
    ad_payload(price={"amount": "10.5", "currency": "EUR"}, external_ref="price"),
    ad_payload(
        category="alcohol",
        headline="Craft beer tasting",
        target_min_age=21,
        starts_at="2027-01-01T09:00:00+02:00",
        ends_at="2027-02-01T09:00:00-05:00",
        external_ref="times",
    ),
]


def read_rows(ids) -> dict:
    # Not the upsert's own columns: when the row was written, and the status it replaced.
    fields = [f.attname for f in AdView._meta.concrete_fields if f.attname not in ("projected_at", "previous_status")]
    return {row["id"]: row for row in AdView.objects.filter(id__in=ids).values(*fields)}


def test_the_rows_projected_from_the_judged_ads_are_those_read_back(retailer):
    for payload in PAYLOADS:
        assert validate_basic(payload).ok, payload
    events = [intake_event(retailer, **payload) for payload in PAYLOADS]

    processed = submissions_process(events=events)

    assert len(processed.judged) == len(PAYLOADS)
    assert ads_project_judged(judged=processed.judged) == len(PAYLOADS)
    from_memory = read_rows(processed.ids)
    assert {row["status"] for row in from_memory.values()} == {"approved", "rejected", "needs_review"}
    assert any(row["findings"] for row in from_memory.values())
    # The reading projection at the same version rewrites every row from the database.
    assert ads_project(ad_ids=processed.ids, reapply=True) == len(PAYLOADS)
    read_back = read_rows(processed.ids)
    for ad_id in processed.ids:
        memory, stored = from_memory[ad_id], read_back[ad_id]
        assert bytes(memory.pop("document")) == bytes(stored.pop("document")), ad_id
        assert memory == stored, ad_id


def test_the_consumer_projects_the_ads_it_stored_and_publishes_only_the_others(retailer, monkeypatch):
    published = []
    monkeypatch.setattr(tasks, "publish_task", lambda *, task_name, payload: published.append((task_name, payload)))
    stored_before = intake_event(retailer, external_ref="stored-before")
    with transaction.atomic():
        submissions_store(events=[stored_before])
    fresh = [intake_event(retailer, external_ref=f"fresh-{i}") for i in range(3)]

    judged = tasks.process_submissions_task([e.to_dict() for e in [*fresh, stored_before]])

    assert judged == 4
    # The ads it stored are in the read table already; the one stored before goes to the projection.
    assert set(AdView.objects.values_list("id", flat=True)) == {uuid.UUID(e.ad_id) for e in fresh}
    assert published == [(PROJECT_ADS_TASK, [stored_before.ad_id])]
    # Delivered again: everything is stored, so all of it goes to the projection (a no-op there).
    published.clear()
    tasks.process_submissions_task([e.to_dict() for e in fresh])
    assert published == [(PROJECT_ADS_TASK, [e.ad_id for e in fresh])]
