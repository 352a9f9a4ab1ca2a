from django.core.management.base import BaseCommand, CommandError

from adplatform.kernel.models import Retailer
from ads_read.reports import parse_report_date
from notifications.selectors import report_retailers
from notifications.services.reports import ReportError, report_failed_ads_send


class Command(BaseCommand):
    help = (
        "(Re)send the failed-ads report of one day (in each retailer's time zone) to the "
        "retailers' report contacts. Without --force a report already sent is not sent again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, help="The day to report, YYYY-MM-DD.")
        parser.add_argument("--retailer", help="Only this retailer (its name); default: all with report contacts.")
        parser.add_argument("--force", action="store_true", help="Send again even if already sent.")

    def handle(self, *, date, retailer, force, **options):
        try:
            day = parse_report_date(date)
        except ValueError as exc:
            raise CommandError(f"--date: {exc}") from exc
        if retailer:
            retailers = list(Retailer.objects.filter(name=retailer))
            if not retailers:
                raise CommandError(f"--retailer: no retailer named {retailer!r}")
        else:
            retailers = report_retailers()
            if not retailers:
                raise CommandError("no active retailer has report contacts")
        problems = 0
        for each in retailers:
            try:
                outcome = report_failed_ads_send(retailer=each, day=day, force=force, actor="system:cli")
            except ReportError as exc:
                problems += 1
                self.stderr.write(f"{each.name}: not sent: {exc}")
                continue
            delivery = outcome.delivery
            if outcome.result == "sent":
                self.stdout.write(
                    f"{each.name}: sent to {', '.join(delivery.recipients)} "
                    f"({delivery.rejected_count} rejected, {delivery.review_count} awaiting review)"
                )
            elif outcome.result == "already_sent":
                self.stdout.write(
                    f"{each.name}: already sent at {delivery.sent_at:%Y-%m-%d %H:%M %Z}; use --force to send again"
                )
            else:
                self.stdout.write(
                    f"{each.name}: another worker is sending it right now (claimed at {delivery.claimed_at:%H:%M:%S %Z})"
                )
        if problems:
            raise CommandError(f"{problems} of {len(retailers)} report(s) could not be sent")
