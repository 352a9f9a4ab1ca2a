from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from adplatform.kernel.models import Retailer
from adplatform.kernel.services import api_key_create, retailer_create


class Command(BaseCommand):
    help = "Create a retailer (or a new key for an existing one) and print its API key on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--email", default="", help="The retailer's address; also its report contact by default.")
        parser.add_argument(
            "--report-contact",
            action="append",
            dest="report_contacts",
            metavar="EMAIL",
            help="Where the daily failed-ads report goes (repeat for several); default: --email.",
        )
        parser.add_argument(
            "--if-exists",
            choices=["error", "new-key"],
            default="error",
            help="What to do when the retailer exists: fail, or issue it another key.",
        )

    def handle(self, *, name, email, report_contacts, if_exists, **options):
        name = name.strip()
        if not name:
            raise CommandError("--name must not be blank.")
        for option, address in [("--email", email), *(("--report-contact", a) for a in report_contacts or ())]:
            if not address:
                continue
            try:
                validate_email(address)
            except ValidationError as exc:
                raise CommandError(f"{option} {address!r} is not a valid e-mail address.") from exc
        retailer = Retailer.objects.filter(name=name).first()
        if retailer and if_exists == "error":
            raise CommandError(f"A retailer named {name!r} exists already (use --if-exists new-key for another key).")
        if retailer is None:
            retailer = retailer_create(name=name, email=email, report_contacts=report_contacts)
            self.stdout.write(f"Created retailer {retailer.name} ({retailer.id}).")
        raw_key = api_key_create(retailer=retailer, label="cli")
        self.stdout.write("API key (shown once; send it as 'Authorization: Bearer <key>'):")
        self.stdout.write(raw_key)
