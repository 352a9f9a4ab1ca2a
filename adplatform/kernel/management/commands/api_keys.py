import uuid
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from adplatform.kernel.models import ApiKey, Retailer, Scope
from adplatform.kernel.services import ApiKeyError, api_key_issue, api_key_revoke


def actor_of(by: str) -> str:
    return f"staff:{by}" if by else "system:cli"


class Command(BaseCommand):
    help = (
        "Staff's API-key tools. `list --retailer NAME`; `create --retailer NAME [--label L] [--scope S ...] "
        "[--expires-at ISO]` prints the new key alone on the last line; `revoke KEY` (its id, prefix or the whole "
        "leaked key) refuses it on every web process from the next request on. Every change is audited "
        "(`--by NAME` names the staff member)."
    )

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        listing = commands.add_parser("list", help="A retailer's keys.")
        listing.add_argument("--retailer", required=True)
        create = commands.add_parser("create", help="A new key for a retailer (every scope unless --scope).")
        create.add_argument("--retailer", required=True)
        create.add_argument("--label", default="")
        create.add_argument("--scope", dest="scopes", action="append", choices=Scope.values)
        create.add_argument("--expires-at", type=datetime.fromisoformat)
        create.add_argument("--by", default="", help="Who does this (the audit actor).")
        revoke = commands.add_parser("revoke", help="Revoke a key.")
        revoke.add_argument("key", help="The key's id, its prefix, or the whole key.")
        revoke.add_argument("--by", default="", help="Who does this (the audit actor).")

    def handle(self, *, command, **options):
        getattr(self, f"_{command}")(**options)

    def _retailer(self, name: str) -> Retailer:
        retailer = Retailer.objects.filter(name=name).first()
        if retailer is None:
            raise CommandError(f"No retailer named {name!r}.")
        return retailer

    def _list(self, *, retailer, **options):
        for key in ApiKey.objects.filter(retailer=self._retailer(retailer)).order_by("-created_at"):
            self.stdout.write(
                f"{key.id}  {key.prefix}  {key.status:<7}  {','.join(key.scopes):<25}  "
                f"last used {key.last_used_at or '-'}  {key.label}"
            )

    def _create(self, *, retailer, label, scopes, expires_at, by, **options):
        if expires_at is not None and timezone.is_naive(expires_at):
            expires_at = timezone.make_aware(expires_at, timezone.utc)
        try:
            issued = api_key_issue(
                retailer=self._retailer(retailer), label=label, scopes=scopes, expires_at=expires_at, actor=actor_of(by)
            )
        except ApiKeyError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Key {issued.key.prefix} ({issued.key.id}), scopes {','.join(issued.key.scopes)}.")
        self.stdout.write("API key (shown once; send it as 'Authorization: Bearer <key>'):")
        self.stdout.write(issued.raw_key)

    def _revoke(self, *, key, by, **options):
        prefix = ApiKey.split(key) or key
        found = ApiKey.objects.filter(prefix=prefix).first()
        if found is None:
            try:
                found = ApiKey.objects.filter(pk=uuid.UUID(key)).first()
            except ValueError:  # not an id either
                pass
        if found is None:
            raise CommandError(f"No API key {key!r} (give its id, its prefix or the whole key).")
        if found.revoked_at is not None:
            self.stdout.write(f"Key {found.prefix} of {found.retailer} was revoked already, at {found.revoked_at}.")
            return
        api_key_revoke(key_id=found.pk, actor=actor_of(by))
        self.stdout.write(f"Revoked key {found.prefix} of {found.retailer}.")
