"""The daily failed-ads report by e-mail: once per retailer and day, resumable after a crash,
the attachment byte for byte the API's CSV."""

import csv
import gzip
import io
import signal
import smtplib
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.db.models import F

from audit.models import AuditEntry
from notifications.models import ReportDelivery
from notifications.selectors import report_daily_due
from notifications.services import reports
from notifications.tasks import report_failed_ads_send_task
from tests.conftest import ROOT, client_for, worker_env
from tests.factories import AdViewFactory, RetailerFactory
from tests.notifications.mail_backends import FailOnceBackend

# Through a PgBouncer in transaction mode, as production may run (tests/pgbouncer.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("through_pgbouncer")]

# Beat fires at 02:00 UTC on the 4th: UTC and Berlin report the 3rd, New York (still the
# evening of the 3rd there) reports the 2nd.
RUN_AT = datetime(2026, 11, 4, 2, 0, tzinfo=UTC)
NOV_3 = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
NOV_2 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def shops(db):
    nimbus = RetailerFactory(name="Nimbus", report_contacts=["ops@nimbus.example", "buyers@nimbus.example"])
    orbit = RetailerFactory(name="Orbit", timezone="America/New_York", report_contacts=["ads@orbit.example"])
    zephyr = RetailerFactory(name="Zephyr", timezone="Europe/Berlin", report_contacts=["ads@zephyr.example"])
    RetailerFactory(name="Quiet", report_contacts=[])  # no contacts: no report
    ads = {
        "nimbus": AdViewFactory(retailer_id=nimbus.id, reviewed_at=NOV_3, headline="=SUM(A1:A9)", external_ref="@ref"),
        "nimbus_held": AdViewFactory(retailer_id=nimbus.id, status="needs_review", reviewed_at=NOV_3),
        "nimbus_held_before": AdViewFactory(
            retailer_id=nimbus.id, status="needs_review", reviewed_at=NOV_2
        ),  # the 2nd's
        "orbit": AdViewFactory(retailer_id=orbit.id, reviewed_at=NOV_2),
        "orbit_later": AdViewFactory(retailer_id=orbit.id, reviewed_at=NOV_3),  # the 3rd: tomorrow's report
        "zephyr": AdViewFactory(retailer_id=zephyr.id, reviewed_at=NOV_3),
    }
    return {"nimbus": nimbus, "orbit": orbit, "zephyr": zephyr}, ads


def run_daily(now) -> dict:
    """What the `reports` workers do with one beat run: each due retailer's report, a failure
    of one not stopping the others (each is its own task)."""
    results = {}
    for retailer, day in report_daily_due(now=now):
        try:
            results[retailer.name] = (day, reports.report_failed_ads_send(retailer=retailer, day=day, now=now).result)
        except smtplib.SMTPException:
            results[retailer.name] = (day, "error")
    return results


def attachment_bytes(message) -> tuple[str, bytes]:
    [part] = message.attachments
    return part.get_filename(), part.get_payload(decode=True)


def rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode(), newline="")))


def api_csv(retailer, day: str) -> bytes:
    return b"".join(client_for(retailer).get("/api/v1/reports/failed-ads.csv", {"date": day}).streaming_content)


def test_one_mail_per_retailer_with_the_exact_csv(shops, mailoutbox):
    (retailers, ads) = shops
    assert run_daily(RUN_AT) == {
        "Nimbus": (date(2026, 11, 3), "sent"),
        "Orbit": (date(2026, 11, 2), "sent"),
        "Zephyr": (date(2026, 11, 3), "sent"),
    }
    by_recipient = {tuple(m.to): m for m in mailoutbox}
    assert set(by_recipient) == {
        ("ops@nimbus.example", "buyers@nimbus.example"),
        ("ads@orbit.example",),
        ("ads@zephyr.example",),
    }

    nimbus_mail = by_recipient[("ops@nimbus.example", "buyers@nimbus.example")]
    name, data = attachment_bytes(nimbus_mail)
    assert name == "failed-ads-2026-11-03.csv"
    parsed = rows(data)
    assert [(r["status"], r["ad_id"], r["finding_code"]) for r in parsed] == [
        ("rejected", str(ads["nimbus"].id), "COMPLIANCE.PROHIBITED_CATEGORY"),
        ("needs_review", str(ads["nimbus_held"].id), "COMPLIANCE.PROHIBITED_CATEGORY"),
    ]
    assert parsed[0]["headline"] == "'=SUM(A1:A9)" and parsed[0]["external_ref"] == "'@ref"
    assert "rejected during the day: 1" in nimbus_mail.body and "still open: 1" in nimbus_mail.body
    assert nimbus_mail.subject == "Failed ads on 2026-11-03: 1 rejected, 1 awaiting review"
    assert data == api_csv(retailers["nimbus"], "2026-11-03")  # byte for byte

    orbit_name, orbit_data = attachment_bytes(by_recipient[("ads@orbit.example",)])
    assert orbit_name == "failed-ads-2026-11-02.csv"
    assert [r["ad_id"] for r in rows(orbit_data)] == [str(ads["orbit"].id)]
    assert orbit_data == api_csv(retailers["orbit"], "2026-11-02")

    deliveries = ReportDelivery.objects.order_by("retailer__name")
    assert [(d.retailer.name, d.status, d.rejected_count, d.review_count, d.attempts) for d in deliveries] == [
        ("Nimbus", "sent", 1, 1, 1),
        ("Orbit", "sent", 1, 0, 1),
        ("Zephyr", "sent", 1, 0, 1),
    ]
    audit = AuditEntry.objects.filter(action="report.sent").order_by("sequence")
    assert [(e.retailer_id, e.data["date"], e.data["rejected"]) for e in audit] == [
        (retailers["nimbus"].id, "2026-11-03", 1),
        (retailers["orbit"].id, "2026-11-02", 1),
        (retailers["zephyr"].id, "2026-11-03", 1),
    ]


def test_a_second_run_sends_nothing(shops, mailoutbox):
    run_daily(RUN_AT)
    assert len(mailoutbox) == 3
    again = run_daily(RUN_AT + timedelta(minutes=5))
    assert {result for _, result in again.values()} == {"already_sent"}
    assert len(mailoutbox) == 3
    assert AuditEntry.objects.filter(action="report.sent").count() == 3


def test_a_run_that_fails_half_way_resumes_with_the_retailers_not_yet_sent(shops, settings):
    settings.EMAIL_BACKEND = "tests.notifications.mail_backends.FailOnceBackend"
    FailOnceBackend.fail_for, FailOnceBackend.failed = "ads@orbit.example", set()

    assert run_daily(RUN_AT)["Orbit"][1] == "error"
    assert sorted(m.to[0] for m in mail.outbox) == ["ads@zephyr.example", "ops@nimbus.example"]
    orbit = ReportDelivery.objects.get(retailer__name="Orbit")
    assert orbit.status == "failed" and "SMTPServerDisconnected" in orbit.last_error

    rerun = run_daily(RUN_AT + timedelta(minutes=1))  # the task's retry, or a second beat
    assert {name: result for name, (_, result) in rerun.items()} == {
        "Nimbus": "already_sent",
        "Orbit": "sent",
        "Zephyr": "already_sent",
    }
    sent_to = sorted(m.to[0] for m in mail.outbox)
    assert sent_to == ["ads@orbit.example", "ads@zephyr.example", "ops@nimbus.example"]  # each exactly once
    assert ReportDelivery.objects.get(retailer__name="Orbit").attempts == 2


CLAIM_TIMEOUT = 60  # longer than any run of the command here takes


@pytest.mark.django_db(transaction=True)  # the runs are other processes: they must see the rows
def test_a_run_killed_half_way_then_rerun_sends_each_retailer_exactly_once(shops, tmp_path):
    """A real crash: `send_failed_ads_report` is SIGKILLed while it mails Orbit (after
    Nimbus, before Zephyr). The rerun sends Zephyr and leaves Orbit's fresh claim alone; once
    the claim has expired, the next run sends Orbit. Every retailer gets one mail."""
    mail_dir = tmp_path / "mail"

    def run(**env):
        return subprocess.run(
            [sys.executable, "manage.py", "send_failed_ads_report", "--date", "2026-11-03"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env=worker_env(
                EMAIL_BACKEND="tests.notifications.mail_backends.CrashingFileBackend",
                EMAIL_FILE_PATH=str(mail_dir),
                REPORT_SEND_TIME_LIMIT="1",
                REPORT_CLAIM_TIMEOUT=str(CLAIM_TIMEOUT),
                **env,
            ),
        )

    def mailed_to() -> list[str]:
        return sorted(
            line.split(": ", 1)[1]
            for path in mail_dir.iterdir()
            for line in path.read_text().splitlines()
            if line.startswith("To: ")
        )

    def states() -> dict:
        return dict(ReportDelivery.objects.values_list("retailer__name", "status"))

    for retailer in shops[0].values():  # one day, the 3rd, that is over for everyone
        retailer.timezone = "UTC"
        retailer.save()
    crashed = run(CRASH_FOR="ads@orbit.example")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert mailed_to() == ["ops@nimbus.example, buyers@nimbus.example"]
    assert states() == {"Nimbus": "sent", "Orbit": "claimed"}  # Zephyr never reached

    rerun = run()
    assert rerun.returncode == 0, rerun.stderr
    assert "Nimbus: already sent" in rerun.stdout and "Orbit: another worker is sending it" in rerun.stdout
    assert mailed_to() == ["ads@zephyr.example", "ops@nimbus.example, buyers@nimbus.example"]

    # The claim runs out: aged in the table rather than waited for, so that a slow machine
    # (a rerun starting late) cannot see it expire before the rerun above looked at it.
    ReportDelivery.objects.filter(retailer__name="Orbit").update(
        claimed_at=F("claimed_at") - timedelta(seconds=CLAIM_TIMEOUT + 1)
    )
    last = run()
    assert last.returncode == 0, last.stderr
    assert "Orbit: sent to ads@orbit.example" in last.stdout and last.stdout.count("already sent") == 2
    assert mailed_to() == ["ads@orbit.example", "ads@zephyr.example", "ops@nimbus.example, buyers@nimbus.example"]
    assert states() == {"Nimbus": "sent", "Orbit": "sent", "Zephyr": "sent"}
    assert ReportDelivery.objects.get(retailer__name="Orbit").attempts == 2
    assert AuditEntry.objects.filter(action="report.sent").count() == 3


def test_a_claim_left_by_a_dead_worker_is_taken_over_only_after_the_timeout(shops, mailoutbox, settings):
    retailers, _ = shops
    claimed_at = RUN_AT - timedelta(seconds=settings.REPORT_CLAIM_TIMEOUT - 60)
    ReportDelivery.objects.create(
        retailer=retailers["zephyr"], date=date(2026, 11, 3), status="claimed", claimed_at=claimed_at, attempts=1
    )
    outcome = reports.report_failed_ads_send(retailer=retailers["zephyr"], day=date(2026, 11, 3), now=RUN_AT)
    assert outcome.result == "in_progress" and mailoutbox == []
    assert reports.report_claim_expires_in(outcome.delivery, now=RUN_AT) == 60  # when the task looks again

    later = RUN_AT + timedelta(seconds=120)  # the claim is now older than the timeout
    outcome = reports.report_failed_ads_send(retailer=retailers["zephyr"], day=date(2026, 11, 3), now=later)
    assert outcome.result == "sent" and len(mailoutbox) == 1
    assert outcome.delivery.attempts == 2


def test_large_reports_are_gzipped_and_huge_ones_point_to_the_api(shops, mailoutbox, settings):
    retailers, _ = shops
    settings.REPORT_GZIP_OVER_BYTES = 100
    reports.report_failed_ads_send(retailer=retailers["nimbus"], day=date(2026, 11, 3), now=RUN_AT)
    name, packed = attachment_bytes(mailoutbox[0])
    assert name == "failed-ads-2026-11-03.csv.gz"
    assert gzip.decompress(packed) == api_csv(retailers["nimbus"], "2026-11-03")

    settings.REPORT_MAX_ATTACHMENT_BYTES = 10
    reports.report_failed_ads_send(retailer=retailers["nimbus"], day=date(2026, 11, 3), now=RUN_AT, force=True)
    assert mailoutbox[1].attachments == []
    assert "GET /api/v1/reports/failed-ads.csv?date=2026-11-03" in mailoutbox[1].body
    assert ReportDelivery.objects.get(retailer=retailers["nimbus"]).attempts == 2


def test_no_report_for_a_day_not_over_or_without_contacts(shops):
    retailers, _ = shops
    with pytest.raises(reports.ReportError, match="not over yet in America/New_York"):
        reports.report_failed_ads_send(retailer=retailers["orbit"], day=date(2026, 11, 3), now=RUN_AT)
    quiet = RetailerFactory(name="Quiet")
    with pytest.raises(reports.ReportError, match="no report contacts"):
        reports.report_failed_ads_send(retailer=quiet, day=date(2026, 11, 3), now=RUN_AT)
    assert not ReportDelivery.objects.exists()


def test_the_send_task_sends_and_shrugs_off_a_retailer_without_contacts(shops, mailoutbox):
    retailers, _ = shops
    assert report_failed_ads_send_task.apply(args=[str(retailers["zephyr"].id), "2026-11-03"]).get() == "sent"
    assert report_failed_ads_send_task.apply(args=[str(retailers["zephyr"].id), "2026-11-03"]).get() == "already_sent"
    quiet = RetailerFactory(name="Quiet")
    assert report_failed_ads_send_task.apply(args=[str(quiet.id), "2026-11-03"]).get() == "not_sent"
    assert len(mailoutbox) == 1


def test_a_retailer_with_a_broken_time_zone_does_not_stop_the_run(shops):
    RetailerFactory(name="Broken", timezone="Mars/Olympus_Mons", report_contacts=["x@broken.example"])
    assert [r.name for r, _ in report_daily_due(now=RUN_AT)] == ["Nimbus", "Orbit", "Zephyr"]
