from django.core.management.base import BaseCommand, CommandError

from adplatform.kernel.models import Retailer
from adplatform.kernel.services import retailer_set_active

from .api_keys import actor_of


class Command(BaseCommand):
    help = (
        "Deactivate a retailer: every one of its keys is refused (401) on every web process from the next "
        "request on. --reactivate undoes it (keys not revoked or expired work again). Audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="The retailer's name.")
        parser.add_argument("--reactivate", action="store_true")
        parser.add_argument("--by", default="", help="Who does this (the audit actor).")

    def handle(self, *, name, reactivate, by, **options):
        retailer = Retailer.objects.filter(name=name).first()
        if retailer is None:
            raise CommandError(f"No retailer named {name!r}.")
        retailer = retailer_set_active(retailer=retailer, active=reactivate, actor=actor_of(by))
        self.stdout.write(f"{retailer.name} is {'active' if retailer.is_active else 'deactivated'}.")
