from django.core.management.base import BaseCommand

from ads_write.services.appeals import appeals_supersede_stale

ACTOR = "system:appeals_supersede_stale"


class Command(BaseCommand):
    help = (
        "Close the appeals left open on ads judged again since they were filed (before appeals were "
        "superseded with the new verdict): status superseded, an ad.appeal_superseded audit entry each, "
        "the ad projected again. Safe to run again: it closes only what is still open and stale."
    )

    def handle(self, **options):
        closed = appeals_supersede_stale(actor=ACTOR)
        self.stdout.write(f"closed {closed} superseded appeal{'s' if closed != 1 else ''}")
