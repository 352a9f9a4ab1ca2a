from django.core.management.base import BaseCommand, CommandError

from audit.staff_login import StaffError, staff_totp_enrol, totp_secret


class Command(BaseCommand):
    help = (
        "Give a staff user a TOTP device for the admin's second factor and print, once, the otpauth:// "
        "URI (for a QR code) and the secret; audited (without the secret)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--replace", action="store_true", help="Remove the user's existing devices first.")

    def handle(self, *, username, replace, **options):
        try:
            device = staff_totp_enrol(username=username, replace=replace)
        except StaffError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"TOTP device for {username} (shown once, keep it secret):")
        self.stdout.write(f"  URI:    {device.config_url}")
        self.stdout.write(f"  Secret: {totp_secret(device)}")
