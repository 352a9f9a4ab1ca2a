import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from audit.roles import ROLES
from audit.staff import StaffError, staff_upsert


class Command(BaseCommand):
    help = (
        "Create a compliance staff user in a role (reviewer, auditor, operator) or update one; asks for the password."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, choices=sorted(ROLES))
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from the first line of stdin (scripts)"
        )

    def handle(self, *, username, role, password_stdin, **options):
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            # Never on the command line: it would stay in the shell history and the process list.
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ; nothing was changed.")
        if not password:
            raise CommandError("A password is required.")
        try:
            user, created, previous = staff_upsert(username=username, role=role, password=password)
        except StaffError as exc:
            raise CommandError(str(exc)) from exc
        change = f" (was: {', '.join(previous) or 'no role'})" if previous != [ROLES[role]] and not created else ""
        self.stdout.write(f"{'Created' if created else 'Updated'} {role} {user.username}{change}.")
