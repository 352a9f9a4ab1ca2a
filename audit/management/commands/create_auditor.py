from django.core.management.base import BaseCommand, CommandError

from audit.services import AuditorError, auditor_upsert


class Command(BaseCommand):
    help = "Create an auditor (compliance staff in the Auditors group) or update one's password."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)

    def handle(self, *, username, password, **options):
        try:
            user, created = auditor_upsert(username=username, password=password)
        except AuditorError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{'Created' if created else 'Updated'} auditor {user.username}.")
