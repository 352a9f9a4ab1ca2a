from django.core.management import call_command
from django.core.management.base import BaseCommand

from adplatform.kernel.models import Retailer
from adplatform.kernel.services import api_key_create, retailer_create

DEMO_RETAILER = "Demo Retailer"


class Command(BaseCommand):
    help = "Create the demo retailer (once) and print a fresh API key for it."

    def handle(self, **options):
        retailer = Retailer.objects.filter(name=DEMO_RETAILER).first()
        if retailer is None:
            retailer = retailer_create(name=DEMO_RETAILER, email="reports@demo-retailer.example")
        raw_key = api_key_create(retailer=retailer, label="make run")
        self.stdout.write(self.style.SUCCESS(f"Demo retailer: {retailer.name}"))
        self.stdout.write(f"  API key: {raw_key}")
        self.stdout.write(
            "  Try: curl -X POST http://127.0.0.1:8000/api/v1/ads -H 'Authorization: Bearer "
            + raw_key
            + "' -H 'Content-Type: application/json' -d @docs/example-ad.json"
        )
