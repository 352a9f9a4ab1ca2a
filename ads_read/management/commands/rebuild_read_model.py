from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from adplatform.kernel.cli import retailer_id_from
from ads_read.rebuild import read_model_rebuild


class Command(BaseCommand):
    help = (
        "Re-project ads from the write side into the read table, in batches, through the projection "
        "(safe while intake runs: a row never replaces a newer one). Resumes after a killed run of the "
        "same scope; --restart starts over. A finished run deletes read rows of ads the write side does not "
        "have. Audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("--retailer", help="Only this retailer's ads (its name or id).")
        parser.add_argument(
            "--since", help="Only ads submitted on or after this day or moment (ISO 8601; UTC if bare)."
        )
        parser.add_argument("--batch-size", type=int, default=1000, help="Ads per projection batch (default 1000).")
        parser.add_argument(
            "--restart", action="store_true", help="Forget the checkpoint of an earlier run; start over."
        )
        parser.add_argument(
            "--max-batches", type=int, help="Stop after this many batches (the checkpoint is kept: run again to go on)."
        )

    def handle(self, *, retailer, since, batch_size, restart, max_batches, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        retailer_id = retailer_id_from(retailer) if retailer else None
        moment = _moment(since) if since else None
        bar = tqdm(unit="ad", desc="rebuild", disable=None, file=self.stderr._out, smoothing=0.1)

        def started(total, done_before):
            bar.reset(total=total)
            bar.update(done_before)

        try:
            result = read_model_rebuild(
                retailer_id=retailer_id,
                since=moment,
                batch_size=batch_size,
                restart=restart,
                max_batches=max_batches,
                on_start=started,
                on_batch=bar.update,
            )
        finally:
            bar.close()
        elapsed = bar.format_dict["elapsed"] or 0
        rate = f", {result.projected / elapsed:,.0f} ads/s" if elapsed and result.projected else ""
        resumed = f" (resumed after {result.resumed_after})" if result.resumed_after else ""
        state = "done" if result.finished else "stopped; run again to go on"
        deleted = f"; deleted {result.deleted} read rows of ads the write side does not have" if result.deleted else ""
        self.stdout.write(
            f"re-projected {result.projected} of {result.total} ads in {result.batches} batches{resumed}{rate}: "
            f"{state}{deleted}"
        )


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--since: {exc}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
