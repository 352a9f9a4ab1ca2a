"""`manage.py send_failed_ads_report`: (re)send a day's report by hand."""

from datetime import UTC, date, datetime

import pytest
from django.core.management import CommandError, call_command

from notifications.models import ReportDelivery
from tests.factories import AdViewFactory, RetailerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db):
    shop = RetailerFactory(name="Nimbus", report_contacts=["ops@nimbus.example"])
    AdViewFactory(retailer_id=shop.id, reviewed_at=datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    return shop


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("send_failed_ads_report", *args, stdout=out)
    return out.getvalue()


def test_send_then_refuse_to_resend_unless_forced(shop, mailoutbox):
    assert "Nimbus: sent to ops@nimbus.example (1 rejected, 0 awaiting review)" in run("--date", "2026-11-03")
    assert "already sent" in run("--date", "2026-11-03", "--retailer", "Nimbus") and len(mailoutbox) == 1
    assert "sent to" in run("--date", "2026-11-03", "--force")
    assert len(mailoutbox) == 2
    delivery = ReportDelivery.objects.get()
    assert (delivery.date, delivery.attempts) == (date(2026, 11, 3), 2)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--date", "3/11/2026"], "--date: give the day as YYYY-MM-DD"),
        (["--date", "2026-02-30"], "--date: 2026-02-30 is not a calendar day"),
        (["--date", "2026-11-03", "--retailer", "Nobody"], "no retailer named 'Nobody'"),
    ],
)
def test_bad_input_gets_a_clear_message(shop, args, message, mailoutbox):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert mailoutbox == []


def test_a_day_not_over_or_a_retailer_without_contacts(shop, mailoutbox, capsys):
    RetailerFactory(name="Quiet", report_contacts=[])
    with pytest.raises(CommandError, match="1 of 1 report"):
        call_command("send_failed_ads_report", "--date", "2999-01-01", "--retailer", "Nimbus")
    assert "not over yet" in capsys.readouterr().err
    with pytest.raises(CommandError, match="1 of 1 report"):
        call_command("send_failed_ads_report", "--date", "2026-11-03", "--retailer", "Quiet")
    assert "no report contacts" in capsys.readouterr().err
    assert mailoutbox == []
