from django.core.management.base import BaseCommand

from audit.staff_login import staff_unlock


class Command(BaseCommand):
    help = "Lift a staff login lockout (too many failed logins), for one address or all; audited."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--ip", help="Only the lockout of logins from this address.")
        parser.add_argument("--by", default="system:cli", help="Who unlocks, for the audit log (staff:<username>).")

    def handle(self, *, username, ip, by, **options):
        removed = staff_unlock(username=username, ip_address=ip, actor=by)
        where = f" from {ip}" if ip else ""
        self.stdout.write(f"Unlocked {username}{where} ({removed} lockout record(s) removed).")
