"""The daily report catches up: a run sends every day of the last REPORT_CATCHUP_DAYS whose
report is missing (beat was down, a fan-out message was lost), each once per retailer and day."""

from datetime import UTC, date, datetime, timedelta

import pytest

from notifications.catchup import report_days_due
from notifications.models import ReportDelivery
from notifications.services import reports
from tests.factories import AdViewFactory, RetailerFactory

pytestmark = pytest.mark.django_db

RUN_AT = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # reports up to the 9th (UTC)


def sent_days(retailer) -> list[date]:
    return sorted(ReportDelivery.objects.filter(retailer=retailer, status="sent").values_list("date", flat=True))


def run_daily(now) -> None:
    """Beat's run, and the `reports` workers sending what it published."""
    for retailer, day in report_days_due(now=now):
        reports.report_failed_ads_send(retailer=retailer, day=day, now=now)


@pytest.fixture
def nimbus(db):
    return RetailerFactory(
        name="Nimbus", report_contacts=["ops@nimbus.example"], created_at=RUN_AT - timedelta(days=60)
    )


def test_a_run_sends_every_missed_day_of_the_window_once(nimbus, settings, mailoutbox):
    settings.REPORT_CATCHUP_DAYS = 7
    AdViewFactory(retailer_id=nimbus.id, reviewed_at=datetime(2026, 11, 5, 12, 0, tzinfo=UTC))
    # Beat sent the 1st to the 4th, then was down (or lost its messages) from the 5th on.
    for day in range(1, 5):
        reports.report_failed_ads_send(retailer=nimbus, day=date(2026, 11, day), now=RUN_AT)
    mailoutbox.clear()

    run_daily(RUN_AT)
    assert sent_days(nimbus) == [date(2026, 11, day) for day in range(1, 10)]
    assert sorted(m.subject[len("Failed ads on ") :][:10] for m in mailoutbox) == [
        f"2026-11-0{day}" for day in range(5, 10)
    ]  # the five missed days, once each
    assert "1 rejected" in next(m.subject for m in mailoutbox if "2026-11-05" in m.subject)

    run_daily(RUN_AT + timedelta(hours=1))  # a second run (or a second beat) sends nothing
    assert len(mailoutbox) == 5


def test_the_window_bounds_the_catch_up_and_a_new_retailer_starts_at_yesterday(nimbus, settings):
    settings.REPORT_CATCHUP_DAYS = 3
    RetailerFactory(name="Orbit", report_contacts=["ads@orbit.example"], created_at=RUN_AT)
    due = report_days_due(now=RUN_AT)
    assert [(r.name, d.day) for r, d in due] == [("Nimbus", 7), ("Nimbus", 8), ("Nimbus", 9), ("Orbit", 9)]
