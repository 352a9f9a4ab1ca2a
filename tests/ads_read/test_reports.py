"""The daily failed-ads CSV: which ads, which rows, in whose day, and safe to open in a
spreadsheet; streamed from the read table and downloadable through the API."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connections

from ads_read import reports
from ads_read.models import AdView
from ads_read.reports import COLUMNS, FailedAdsReport, day_window, parse_report_date
from tests.conftest import client_for
from tests.factories import AdViewFactory, RetailerFactory

# Through a PgBouncer in transaction mode, as production may run (tests/pgbouncer.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("through_pgbouncer")]

DAY = date(2026, 11, 3)
NOON = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
TWO_FINDINGS = [
    {
        "code": "POLICY.EXCESSIVE_PUNCTUATION",
        "category": "policy",
        "severity": "reject",
        "message": "Too many !",
        "field": "headline",
        "evidence": {},
    },
    {
        "code": "FRAUD.BLOCKED_DOMAIN",
        "category": "fraud",
        "severity": "reject",
        "message": "=blocked domain",
        "field": "landing_url",
        "evidence": {},
    },
]


def parse(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode(), newline="")))


def build(retailer, day=DAY) -> tuple[bytes, FailedAdsReport]:
    report = FailedAdsReport(retailer_id=retailer.id, day=day, tz=retailer.timezone)
    return b"".join(report.chunks()), report


def test_rejected_ads_of_the_day_and_open_reviews_one_row_per_finding(retailer, other_retailer):
    two = AdViewFactory(retailer_id=retailer.id, reviewed_at=NOON, findings=TWO_FINDINGS)
    one = AdViewFactory(retailer_id=retailer.id, reviewed_at=NOON - timedelta(hours=11, minutes=59))
    decided = AdViewFactory(  # held on the 1st, rejected by staff on the 3rd: counts on the 3rd
        retailer_id=retailer.id,
        reviewed_at=NOON - timedelta(days=2),
        decided_at=NOON + timedelta(hours=11),
        findings=[],
    )
    held = AdViewFactory(retailer_id=retailer.id, status="needs_review", reviewed_at=NOON - timedelta(hours=3))
    AdViewFactory(
        retailer_id=retailer.id, status="needs_review", reviewed_at=NOON - timedelta(days=5)
    )  # that day's report
    AdViewFactory(
        retailer_id=retailer.id, status="needs_review", reviewed_at=NOON + timedelta(hours=12)
    )  # the next day's
    AdViewFactory(retailer_id=retailer.id, reviewed_at=NOON - timedelta(days=1))  # the day before
    AdViewFactory(retailer_id=retailer.id, reviewed_at=NOON + timedelta(hours=12))  # midnight: the next day
    AdViewFactory(retailer_id=retailer.id, status="approved", reviewed_at=NOON, findings=[])
    AdViewFactory(retailer_id=other_retailer.id, reviewed_at=NOON)  # someone else's

    data, report = build(retailer)
    rows = parse(data)
    assert list(rows[0]) == list(COLUMNS)
    assert [(r["status"], r["ad_id"], r["finding_code"]) for r in rows] == [
        ("rejected", str(one.id), "COMPLIANCE.PROHIBITED_CATEGORY"),
        ("rejected", str(two.id), "POLICY.EXCESSIVE_PUNCTUATION"),
        ("rejected", str(two.id), "FRAUD.BLOCKED_DOMAIN"),
        ("rejected", str(decided.id), ""),  # no findings: still one row
        ("needs_review", str(held.id), "COMPLIANCE.PROHIBITED_CATEGORY"),
    ]
    assert (report.rejected, report.needs_review) == (3, 1)
    first = rows[0]
    assert first["external_ref"] == one.external_ref and first["headline"] == one.headline
    assert first["landing_url"] == one.landing_url and first["finding_message"] == "Category is prohibited."
    assert first["submitted_at"] == one.submitted_at.astimezone(UTC).isoformat(timespec="seconds")
    assert first["decided_at"] == "2026-11-03T00:01:00+00:00"
    assert rows[3]["decided_at"] == "2026-11-03T23:00:00+00:00"  # the staff decision, not the hold
    assert data.endswith(b"\r\n") and data.count(b"\r\n") == 6


def test_a_rejected_ad_withdrawn_since_stays_in_its_days_report_and_other_withdrawn_ads_do_not(retailer):
    withdrawn_rejected = AdViewFactory(
        retailer_id=retailer.id, status="withdrawn", withdrawn_from="rejected", reviewed_at=NOON
    )
    still_rejected = AdViewFactory(retailer_id=retailer.id, reviewed_at=NOON + timedelta(hours=1))
    held = AdViewFactory(retailer_id=retailer.id, status="needs_review", reviewed_at=NOON - timedelta(hours=1))
    # A withdrawn hold is not open any more; an ad withdrawn when approved never failed.
    AdViewFactory(retailer_id=retailer.id, status="withdrawn", withdrawn_from="needs_review", reviewed_at=NOON)
    AdViewFactory(retailer_id=retailer.id, status="withdrawn", withdrawn_from="approved", reviewed_at=NOON)
    AdViewFactory(  # rejected and withdrawn, but rejected the day before
        retailer_id=retailer.id, status="withdrawn", withdrawn_from="rejected", reviewed_at=NOON - timedelta(days=1)
    )

    data, report = build(retailer)
    assert [(r["status"], r["ad_id"]) for r in parse(data)] == [
        ("rejected", str(still_rejected.id)),
        ("rejected (withdrawn)", str(withdrawn_rejected.id)),  # after the rejected ones still rejected
        ("needs_review", str(held.id)),
    ]
    assert (report.rejected, report.needs_review, report.withdrawn) == (2, 1, 1)


def test_the_day_is_the_retailers_own(db):
    berlin = RetailerFactory(name="Berlin Shop", timezone="Europe/Berlin")
    late_evening = AdViewFactory(retailer_id=berlin.id, reviewed_at=datetime(2026, 11, 2, 23, 30, tzinfo=UTC))
    AdViewFactory(retailer_id=berlin.id, reviewed_at=datetime(2026, 11, 3, 23, 30, tzinfo=UTC))  # the 4th there
    rows = parse(build(berlin)[0])
    assert [r["ad_id"] for r in rows] == [str(late_evening.id)]
    assert rows[0]["decided_at"] == "2026-11-03T00:30:00+01:00"  # shown in the retailer's time


def test_days_across_a_clock_change_are_23_or_25_hours():
    start, end = day_window(day=date(2026, 10, 25), tz="Europe/Berlin")
    assert end - start == timedelta(hours=24)  # wall-clock difference; in real time:
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)
    start, end = day_window(day=date(2026, 3, 29), tz="Europe/Berlin")
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_cells_cannot_become_formulas(retailer, prefix):
    nasty = f'{prefix}HYPERLINK("https://evil.example","click")'
    ad = AdViewFactory(
        retailer_id=retailer.id,
        reviewed_at=NOON,
        headline=nasty,
        external_ref=f"{prefix}1",
        landing_url=f"{prefix}https://x.example",
        findings=[{**TWO_FINDINGS[0], "code": f"{prefix}CODE", "message": nasty}],
    )
    [row] = parse(build(retailer)[0])
    assert row["ad_id"] == str(ad.id)
    for name in ("headline", "external_ref", "landing_url", "finding_code", "finding_message"):
        assert row[name].startswith("'" + prefix), name
    assert row["headline"] == "'" + nasty


def test_safe_cells_are_left_alone():
    assert reports.csv_safe("Trail shoes = fast") == "Trail shoes = fast"
    assert reports.csv_safe(None) == ""
    assert reports.csv_safe("-5 %") == "'-5 %"


def test_the_csv_streams_in_chunks(retailer, monkeypatch):
    monkeypatch.setattr(reports, "CHUNK_BYTES", 200)
    monkeypatch.setattr(reports, "ROWS_PER_QUERY_CHUNK", 3)
    ids = {str(AdViewFactory(retailer_id=retailer.id, reviewed_at=NOON + timedelta(seconds=i)).id) for i in range(20)}
    report = FailedAdsReport(retailer_id=retailer.id, day=DAY, tz="UTC")
    chunks = list(report.chunks())
    assert len(chunks) > 5 and all(len(c) < 600 for c in chunks)
    assert {r["ad_id"] for r in parse(b"".join(chunks))} == ids and report.rejected == 20


def test_both_sections_are_read_through_a_server_side_cursor(retailer, monkeypatch):
    """Constant memory: the rows come from a PostgreSQL cursor ROWS_PER_QUERY_CHUNK at a time,
    never as one result set; a cursor is open while each section's chunks stream out."""
    monkeypatch.setattr(reports, "CHUNK_BYTES", 200)
    monkeypatch.setattr(reports, "ROWS_PER_QUERY_CHUNK", 3)
    for i in range(10):
        AdViewFactory(retailer_id=retailer.id, reviewed_at=NOON + timedelta(seconds=i))
        AdViewFactory(retailer_id=retailer.id, status="needs_review", reviewed_at=NOON + timedelta(seconds=i))
    connection = connections[AdView.objects.all().db]
    open_while = set()
    for chunk in FailedAdsReport(retailer_id=retailer.id, day=DAY, tz="UTC").chunks():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
            if cursor.fetchone()[0]:
                open_while |= {row.split(b",", 1)[0].decode() for row in chunk.split(b"\r\n") if row}
    assert open_while == {"status", "rejected", "needs_review"}  # the header, then both sections


@pytest.mark.parametrize("text", ["", "2026-11-3", "20261103", "2026-13-01", "2026-02-30", "yesterday"])
def test_bad_dates_are_refused_with_a_message(text):
    with pytest.raises(ValueError, match="YYYY-MM-DD|not a calendar day"):
        parse_report_date(text)


# --- the API ----------------------------------------------------------------------------------
def test_the_api_streams_the_callers_csv(api, retailer, other_retailer):
    mine = AdViewFactory(retailer_id=retailer.id, reviewed_at=NOON)
    AdViewFactory(retailer_id=other_retailer.id, reviewed_at=NOON)
    response = api.get("/api/v1/reports/failed-ads.csv", {"date": "2026-11-03"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="failed-ads-2026-11-03.csv"'
    body = b"".join(response.streaming_content)
    assert body == build(retailer)[0]
    assert [r["ad_id"] for r in parse(body)] == [str(mine.id)]


@pytest.mark.django_db(transaction=True)
def test_the_api_streams_through_pgbouncer_in_autocommit(retailer, monkeypatch):
    """Outside a test's transaction, as in production: the chunks of a long CSV come through
    a pooler that hands each transaction to another server session."""
    monkeypatch.setattr(reports, "ROWS_PER_QUERY_CHUNK", 3)
    ads = [AdViewFactory(retailer_id=retailer.id, reviewed_at=NOON + timedelta(seconds=i)) for i in range(10)]
    answer = client_for(retailer).get("/api/v1/reports/failed-ads.csv", {"date": DAY.isoformat()})
    body = b"".join(answer.streaming_content).decode()
    assert [row["ad_id"] for row in csv.DictReader(io.StringIO(body))] == [str(ad.id) for ad in ads]


@pytest.mark.parametrize("query", [{}, {"date": ""}, {"date": "03/11/2026"}, {"date": "2026-02-30"}])
def test_the_api_answers_400_problem_details_for_a_bad_date(api, query):
    response = api.get("/api/v1/reports/failed-ads.csv", query, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/invalid-date") and problem["errors"][0]["field"] == "date"


def test_the_api_needs_a_key(client):
    response = client.get("/api/v1/reports/failed-ads.csv", {"date": "2026-11-03"})
    assert response.status_code == 401 and response["Content-Type"] == "application/problem+json"


def test_another_retailers_key_gets_its_own_empty_report(other_retailer, retailer):
    AdViewFactory(retailer_id=retailer.id, reviewed_at=NOON)
    body = b"".join(
        client_for(other_retailer).get("/api/v1/reports/failed-ads.csv", {"date": "2026-11-03"}).streaming_content
    )
    assert parse(body) == []
