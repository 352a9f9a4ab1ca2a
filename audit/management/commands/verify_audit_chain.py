from django.core.management.base import BaseCommand, CommandError

from audit.selectors import BATCH_SIZE, audit_chain_verify


class Command(BaseCommand):
    help = (
        "Verify each of the audit log's hash chains in sequence order; exit non-zero naming the first "
        "bad entry. Record the printed heads hash: a later run can only show the chains intact up to it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="Entries read per query.")

    def handle(self, *, batch_size, **options):
        report = audit_chain_verify(batch_size=batch_size)
        if not report.ok:
            raise CommandError(str(report))
        self.stdout.write(self.style.SUCCESS(str(report)))
