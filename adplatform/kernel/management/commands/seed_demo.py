import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from adplatform.kernel.models import Retailer
from adplatform.kernel.services import api_key_create, retailer_create
from audit.staff import staff_upsert

DEMO_RETAILER = "Demo Retailer"
DEMO_AUDITOR = "auditor"


class Command(BaseCommand):
    help = (
        "Create the demo retailer (once) and print a fresh API key for it; create the demo "
        "auditor (once) and print its generated password."
    )

    def handle(self, **options):
        retailer = Retailer.objects.filter(name=DEMO_RETAILER).first()
        if retailer is None:
            retailer = retailer_create(name=DEMO_RETAILER, email="reports@demo-retailer.example")
        raw_key = api_key_create(retailer=retailer, label="make run")
        self.stdout.write(self.style.SUCCESS(f"Demo retailer: {retailer.name}"))
        self.stdout.write(f"  API key: {raw_key}")
        self.stdout.write(
            f"  Try: curl -X POST {self.base_url}/api/v1/ads -H 'Authorization: Bearer "
            + raw_key
            + "' -H 'Content-Type: application/json' -d @docs/example-ad.json"
        )
        self._seed_auditor()

    @property
    def base_url(self) -> str:
        # Where `make run` serves (the Procfile's web binds PORT, 8000 by default).
        return f"http://127.0.0.1:{os.environ.get('PORT') or 8000}"

    def _seed_auditor(self):
        if get_user_model().objects.filter(username=DEMO_AUDITOR).exists():
            self.stdout.write(
                f"Auditor: {DEMO_AUDITOR} exists (password unchanged; set one with "
                f"`manage.py create_auditor --username {DEMO_AUDITOR}`)."
            )
            return
        password = secrets.token_urlsafe(12)
        staff_upsert(username=DEMO_AUDITOR, role="auditor", password=password, actor="system:seed_demo")
        self.stdout.write(self.style.SUCCESS(f"Auditor (shown once): {DEMO_AUDITOR} / {password}"))
        self.stdout.write(f"  Compliance admin: {self.base_url}/admin/")
