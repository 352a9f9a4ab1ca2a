from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.anchors import AnchorError, anchors_read
from audit.selectors import BATCH_SIZE, audit_chain_verify


class Command(BaseCommand):
    help = (
        "Verify each of the audit log's hash chains in sequence order; exit non-zero naming the first "
        "bad entry. With --anchors, every head published in those files (or folders of them) must still "
        "be in the log, with its hash: a chain cut short or rewritten since fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="Entries read per query.")
        parser.add_argument(
            "--anchors", nargs="+", default=[], metavar="FILE", help="Anchor files (or folders of them) to check."
        )

    def handle(self, *, batch_size, anchors, **options):
        files = []
        for name in anchors:
            path = Path(name)
            files.extend(sorted(path.glob("audit-heads-*.json")) if path.is_dir() else [path])
        if anchors and not files:
            raise CommandError(f"No anchor files in {', '.join(anchors)}.")
        try:
            anchored = anchors_read([str(f) for f in files])
        except AnchorError as exc:
            raise CommandError(f"Anchor file refused: {exc}") from exc
        report = audit_chain_verify(batch_size=batch_size, anchors=anchored)
        if not report.ok:
            raise CommandError(str(report))
        self.stdout.write(self.style.SUCCESS(str(report)))
        if files:
            heads = sum(len(sequences) for sequences in anchored.values())
            self.stdout.write(f"All {heads} anchored heads of {len(files)} anchor file(s) are in the log.")
