from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from adplatform.kernel.models import Retailer
from adplatform.kernel.services import api_key_create, retailer_create


class Command(BaseCommand):
    help = "Create a retailer (or a new key for an existing one) and print its API key on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--if-exists",
            choices=["error", "new-key"],
            default="error",
            help="What to do when the retailer exists: fail, or issue it another key.",
        )

    def handle(self, *, name, email, if_exists, **options):
        name = name.strip()
        if not name:
            raise CommandError("--name must not be blank.")
        if email:
            try:
                validate_email(email)
            except ValidationError as exc:
                raise CommandError(f"--email {email!r} is not a valid e-mail address.") from exc
        retailer = Retailer.objects.filter(name=name).first()
        if retailer and if_exists == "error":
            raise CommandError(f"A retailer named {name!r} exists already (use --if-exists new-key for another key).")
        if retailer is None:
            retailer = retailer_create(name=name, email=email)
            self.stdout.write(f"Created retailer {retailer.name} ({retailer.id}).")
        raw_key = api_key_create(retailer=retailer, label="cli")
        self.stdout.write("API key (shown once; send it as 'Authorization: Bearer <key>'):")
        self.stdout.write(raw_key)
