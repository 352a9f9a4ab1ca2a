import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from audit.staff import StaffError, staff_upsert


class Command(BaseCommand):
    help = (
        "Create an auditor (compliance staff in the Auditors group) or update one's password. The "
        "password is asked for twice at the terminal (never an argument: it would show in the process "
        "list and the shell history); scripts pipe it in with --password-stdin."
    )
    stealth_options = ("stdin",)

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.allow_abbrev = False  # or `--password P` would pass as --password-stdin
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument(
            "--password-stdin", action="store_true", help="Read the password from the first line of standard input."
        )

    def handle(self, *, username, password_stdin, **options):
        if password_stdin:
            password = (options.get("stdin") or sys.stdin).readline().rstrip("\r\n")
        else:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password (again): ") != password:
                raise CommandError("The two passwords differ.")
        if not password:
            raise CommandError("A password is required.")
        try:
            user, created, _ = staff_upsert(username=username, role="auditor", password=password)
        except StaffError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{'Created' if created else 'Updated'} auditor {user.username}.")
