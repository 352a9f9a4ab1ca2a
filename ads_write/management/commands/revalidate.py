from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from adplatform.kernel.cli import retailer_id_from
from ads_write.services.revalidation import ads_revalidate, live_approved_ads
from ads_write.validation.ruleset import ruleset_named


class Command(BaseCommand):
    help = (
        "Judge the live approved ads again with a ruleset (after a policy update). Each ad it would no "
        "longer approve gets a new verdict version with that ruleset, an audit entry, its read row and "
        "webhooks; the others are not touched."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--ruleset", required=True, help="A ruleset version (a file in ads_write/validation/rulesets/) or path."
        )
        parser.add_argument("--retailer", help="Only this retailer's ads (its name or id).")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; change nothing.")
        parser.add_argument("--batch-size", type=int, default=500, help="Ads judged per batch (default 500).")

    def handle(self, *, ruleset, retailer, dry_run, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            rules = ruleset_named(ruleset)
        except (LookupError, ValueError, KeyError) as exc:
            raise CommandError(f"--ruleset: {exc}") from exc
        retailer_id = retailer_id_from(retailer) if retailer else None
        total = live_approved_ads(retailer_id=retailer_id).count()
        with tqdm(total=total, unit="ad", desc="revalidate", disable=None, file=self.stderr._out) as bar:
            result = ads_revalidate(
                ruleset=rules, retailer_id=retailer_id, dry_run=dry_run, batch_size=batch_size, on_batch=bar.update
            )
        outcome = ", ".join(f"{count} {status}" for status, count in sorted(result.changed.items())) or "none"
        verb = "would change" if dry_run else "changed"
        self.stdout.write(
            f"ruleset {result.ruleset_version}: judged {result.checked} live approved ads; {verb}: {outcome}"
            + (
                f"; {result.skipped} changed by someone else meanwhile (left for the next run)"
                if result.skipped
                else ""
            )
        )
        for ad_id in result.changed_ids[:50] if dry_run else []:
            self.stdout.write(f"  {ad_id}")
