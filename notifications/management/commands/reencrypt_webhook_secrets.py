from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from adplatform.kernel.encryption import SecretUnreadable
from notifications.services.webhook_deliveries import webhook_secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Encrypt every webhook signing secret again under WEBHOOK_SECRET_KEY_ID, after adding a "
        "key to WEBHOOK_SECRET_KEYS and pointing the id at it; then the old key can be dropped."
    )

    def handle(self, **options):
        try:
            count = webhook_secrets_reencrypt()
        except SecretUnreadable as exc:
            raise CommandError(f"nothing re-encrypted: {exc}") from exc
        self.stdout.write(f"{count} webhook secret(s) now encrypted under key {settings.WEBHOOK_SECRET_KEY_ID!r}.")
