"""At-least-once delivery: the consumers run for real (as the worker would run them, through
the Celery task objects) with duplicated and reordered events."""

import pytest
from django.db import transaction

from adplatform.kernel.bulk import COPY_MIN_ROWS
from adplatform.kernel.events import Event
from ads_read.models import AdView
from ads_read.projections import ads_project
from ads_read.tasks import project_ads_task
from ads_write.models import Ad, Finding, Verdict
from ads_write.services import decisions, submissions
from ads_write.services.events import ad_as_stored
from ads_write.tasks import process_submissions_task
from audit.models import AuditEntry
from tests.factories import ad_payload, intake_events

pytestmark = pytest.mark.django_db(transaction=True)


def state():
    return {
        "ads": sorted(Ad.objects.values_list("id", "status", "version")),
        "verdicts": sorted(Verdict.objects.values_list("ad_id", "version", "status")),
        "findings": Finding.objects.count(),
        "audit": sorted(AuditEntry.objects.filter(ad_id__isnull=False).values_list("ad_id", "action")),
        "views": sorted(AdView.objects.values_list("id", "status", "version")),
    }


def run(events):
    process_submissions_task.apply(args=[events]).get()
    project_ads_task.apply(args=[[e["ad_id"] for e in events]]).get()


def test_the_same_intake_event_twice_leaves_one_ad_one_verdict_one_audit_entry(retailer):
    events = intake_events(retailer.id, ad_payload(), ad_payload(category="tobacco", external_ref="t"))
    run(events)
    once = state()
    run(events)
    run(list(reversed(events)) + events)
    assert state() == once
    assert len(once["ads"]) == 2 and len(once["verdicts"]) == 2
    assert [action for _, action in once["audit"]].count("ad.validated") == 2


def test_the_ads_judged_as_inserted_are_the_ads_the_database_gives_back(retailer):
    # The consumer judges the ads it has just inserted without reading them back: the same
    # values, down to the price's two places and the times' zone.
    payloads = [
        ad_payload(
            external_ref=f"kept-{n}",
            price={"amount": "89.9", "currency": "USD"},
            starts_at="2027-01-01T10:00:00+05:00",
            ends_at="2027-02-01T10:00:00-03:30",
        )
        for n in range(COPY_MIN_ROWS)
    ]
    with transaction.atomic():
        rows = submissions.submissions_store(events=[Event.from_dict(e) for e in intake_events(retailer.id, *payloads)])
    assert rows is not None and len(rows) == COPY_MIN_ROWS
    for row in rows:
        built = ad_as_stored(row, using=Ad.objects.db)
        stored = Ad.objects.get(id=built.id)
        for field in Ad._meta.concrete_fields:
            ours, theirs = getattr(built, field.attname), getattr(stored, field.attname)
            assert (type(ours), str(ours)) == (type(theirs), str(theirs)), field.attname
        assert built.starts_at.utcoffset().total_seconds() == 0


def test_redelivery_after_the_store_but_before_the_verdict_finishes_the_work(retailer):
    events = intake_events(retailer.id, ad_payload())
    with transaction.atomic():  # a worker died right after storing the ad
        submissions.submissions_store(events=[Event.from_dict(e) for e in events])
    assert Ad.objects.get().status == "pending"
    run(events)
    assert Ad.objects.get().status == "approved"
    assert AuditEntry.objects.filter(action="ad.submitted").count() == 1


def test_projections_out_of_order_keep_the_newest_state(retailer):
    events = intake_events(retailer.id, ad_payload(headline="Winter boots"))
    ad_id = events[0]["ad_id"]
    process_submissions_task.apply(args=[events]).get()
    # Fake a held ad so staff can decide it, and project the decision (version 3).
    Ad.objects.filter(id=ad_id).update(status="needs_review")
    decisions.ad_decide(ad_id=ad_id, status="rejected", reviewer="ines", reason="Misleading claim")
    ads_project(ad_ids=[ad_id])
    assert AdView.objects.get(id=ad_id).version == 3

    # A stale projection of version 2 arrives late: it must not win.
    from ads_read.projections import _upsert_newer

    stale = AdView.objects.get(id=ad_id)
    stale.version, stale.status, stale.decided_by, stale.decision_reason = 2, "approved", "", ""
    _upsert_newer([stale])
    view = AdView.objects.get(id=ad_id)
    assert (view.version, view.status, view.decided_by, view.decision_reason) == (
        3,
        "rejected",
        "ines",
        "Misleading claim",
    )


def test_a_poison_message_becomes_a_dead_letter_and_its_neighbours_pass(retailer):
    from adplatform.kernel.models import DeadLetter

    good = intake_events(retailer.id, ad_payload())
    bad = {"schema": 99, "type": "ad.submitted"}
    process_submissions_task.apply(args=[[bad] + good]).get()
    assert Ad.objects.count() == 1
    assert DeadLetter.objects.count() == 1
    process_submissions_task.apply(args=["not a list"])
    assert DeadLetter.objects.count() == 2


def test_findings_land_on_their_own_verdicts_and_a_clean_batch_reads_no_verdict_back(retailer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from adplatform.kernel.bulk import COPY_MIN_ROWS

    retailer.velocity_limit = 10_000
    retailer.save()
    # Enough ads to go by COPY; every third one in a prohibited category.
    payloads = [
        ad_payload(external_ref=f"m{i}", **({"category": "tobacco"} if i % 3 == 0 else {}))
        for i in range(COPY_MIN_ROWS + 1)
    ]
    run(intake_events(retailer.id, *payloads))
    by_ref = {ad.external_ref: ad for ad in Ad.objects.all()}
    for ref, ad in by_ref.items():
        codes = [f.code for f in Finding.objects.filter(verdict__ad=ad)]
        assert codes == (["COMPLIANCE.PROHIBITED_CATEGORY"] if int(ref[1:]) % 3 == 0 else []), ref
    view = AdView.objects.get(external_ref="m0")
    assert view.findings == [Finding.objects.get(verdict__ad=by_ref["m0"]).as_dict()]

    clean = intake_events(retailer.id, *[ad_payload(external_ref=f"c{i}") for i in range(COPY_MIN_ROWS)])
    with CaptureQueriesContext(connection) as queries:
        process_submissions_task.apply(args=[clean]).get()
    assert not Finding.objects.filter(verdict__ad__external_ref__startswith="c").exists()
    assert not any('FROM "ads_write_verdict"' in q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize("count", [2, COPY_MIN_ROWS])
def test_an_ad_no_one_stored_is_written_once_final_with_both_audit_entries(retailer, count):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    retailer.velocity_limit = 10_000
    retailer.save()
    events = intake_events(retailer.id, *[ad_payload(external_ref=f"w{i}") for i in range(count)])
    with CaptureQueriesContext(connection) as queries:
        process_submissions_task.apply(args=[events]).get()
    # Inserted with its verdict's status: no second row version (nor index entries) by UPDATE.
    assert not any(q["sql"].startswith('UPDATE "ads_write_ad"') for q in queries.captured_queries)
    assert set(Ad.objects.values_list("status", "version")) == {("approved", 2)}
    assert Verdict.objects.filter(version=2).count() == count
    entries = list(AuditEntry.objects.filter(ad_id__isnull=False).order_by("sequence"))
    actions = {}
    for entry in entries:
        actions.setdefault(entry.ad_id, []).append(entry.action)
    assert set(map(tuple, actions.values())) == {("ad.submitted", "ad.validated")}
    assert len(actions) == count


@pytest.mark.parametrize("count", [2, COPY_MIN_ROWS])
def test_an_ad_a_twin_stored_while_the_batch_was_judged_is_judged_once(retailer, count, monkeypatch):
    # A twin delivery stores the first ad (pending, as the request path of cqrs does) while
    # this one judges the batch: its write-once insert fails, and it stores the rest and
    # judges them all under the verdicts' revision check instead.
    from ads_write.validation import engine

    retailer.velocity_limit = 10_000
    retailer.save()
    events = intake_events(retailer.id, *[ad_payload(external_ref=f"t{i}") for i in range(count)])
    real = engine.evaluate_many
    twin = []

    def evaluate_during_a_twin(ads, **kwargs):
        if not twin:
            twin.append(True)
            with transaction.atomic():
                submissions.submissions_store(events=[Event.from_dict(events[0])])
        return real(ads, **kwargs)

    monkeypatch.setattr(submissions, "evaluate_many", evaluate_during_a_twin)
    run(events)
    once = state()
    assert {(status, version) for _, status, version in once["ads"]} == {("approved", 2)}
    assert len(once["verdicts"]) == count
    assert sorted(action for _, action in once["audit"]) == ["ad.submitted"] * count + ["ad.validated"] * count
    run(events)
    assert state() == once


def test_the_projection_reads_verdicts_and_findings_by_their_keys(retailer):
    # Lists of ad or verdict ids against the verdict and finding tables were scanned whole by
    # PostgreSQL when it had no statistics on them (a table filled faster than autoanalyze
    # runs): the projection reads the keys per ad by index, then the rows by primary key.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    retailer.velocity_limit = 10_000
    retailer.save()
    payloads = [ad_payload(external_ref=f"p{i}", **({"category": "tobacco"} if i % 2 else {})) for i in range(4)]
    events = intake_events(retailer.id, *payloads)
    process_submissions_task.apply(args=[events]).get()
    with CaptureQueriesContext(connection) as queries:
        project_ads_task.apply(args=[[e["ad_id"] for e in events]]).get()
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    by_list = (
        '"ads_write_verdict"."ad_id" IN',
        '"ads_write_verdict"."ad_id" = ANY',
        '"verdict_id" IN',
        '"verdict_id" = ANY',
    )
    assert not [sql for sql in reads if any(lookup in sql for lookup in by_list)]
    assert any('"ads_write_verdict"."id" = ANY' in sql for sql in reads)
    assert any('"ads_write_finding"."id" = ANY' in sql for sql in reads)
    findings = {view.external_ref: [f["code"] for f in view.findings] for view in AdView.objects.all()}
    assert findings == {f"p{i}": (["COMPLIANCE.PROHIBITED_CATEGORY"] if i % 2 else []) for i in range(4)}
