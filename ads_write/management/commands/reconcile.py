from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ads_write.services.reconciliation import (
    ads_reconcile_pending,
    commands_journal_replay,
    intake_journal_replay,
    pending_markers_prune,
)


class Command(BaseCommand):
    help = (
        "Re-publish what lost messages left behind, now: direct-mode ads and commands journaled but never "
        "stored, and "
        "stored ads still pending, accepted over --older-than seconds ago (beat's reconcile-pending). "
        "With --after-restore (the database was restored to an earlier point: docs/restore.md) it also "
        "drops the pending markers of ads neither stored nor journaled. Audited."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=settings.RECONCILE_PENDING_AFTER,
            help="Only ads accepted (or last re-published) this many seconds ago or more "
            "(default RECONCILE_PENDING_AFTER; 0 after a restore: every one).",
        )
        parser.add_argument(
            "--limit", type=int, default=settings.RECONCILE_BATCH_LIMIT, help="At most this many ads of each kind."
        )
        parser.add_argument(
            "--after-restore", action="store_true", help="Also drop the markers of ads a restore made void."
        )

    def handle(self, *, older_than, limit, after_restore, **options):
        if older_than < 0 or limit < 1:
            raise CommandError("--older-than must be 0 or more and --limit at least 1")
        journaled = intake_journal_replay(older_than_seconds=older_than, limit=limit)
        commands = commands_journal_replay(older_than_seconds=older_than, limit=limit)
        pending = ads_reconcile_pending(older_than_seconds=older_than, limit=limit)
        report = (
            f"re-published {journaled} journaled ads never stored, {commands} journaled commands never stored "
            f"and {pending} stored ads still pending"
        )
        if after_restore:
            report += f"; dropped the pending markers of {pending_markers_prune()} ads neither stored nor journaled"
        self.stdout.write(report)
