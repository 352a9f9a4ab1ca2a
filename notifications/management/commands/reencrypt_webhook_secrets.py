import getpass
import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from adplatform.kernel.encryption import SecretUnreadable
from notifications.services.webhook_deliveries import webhook_secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Encrypt every webhook signing secret again under WEBHOOK_SECRET_KEY_ID, after adding a "
        "key to WEBHOOK_SECRET_KEYS and pointing the id at it; then the old key can be dropped. "
        "Audited (webhook.secrets_reencrypted), with who ran it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--by", default="system:cli", help="Who runs it, for the audit log (staff:<username>).")

    def handle(self, *, by, **options):
        # The operating-system account and host too: `--by` is what the operator says.
        try:
            os_user = getpass.getuser()
        except (OSError, KeyError):  # no name for this uid (a bare container)
            os_user = ""
        ran_from = {"os_user": os_user, "host": socket.gethostname()}
        try:
            count = webhook_secrets_reencrypt(actor=by, data=ran_from)
        except SecretUnreadable as exc:
            raise CommandError(f"nothing re-encrypted: {exc}") from exc
        self.stdout.write(f"{count} webhook secret(s) now encrypted under key {settings.WEBHOOK_SECRET_KEY_ID!r}.")
