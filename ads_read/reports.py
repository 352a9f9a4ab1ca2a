"""The daily failed-ads CSV, built by streaming from the read side.

Layout: one CSV with a header row, then one row per finding (an ad with three findings takes
three rows; an ad without findings still takes one, with empty finding cells). An appealed
ad's status says so: `rejected (appealed)`, `rejected (appeal rejected)`. Rows of ads
that ended `rejected` during the day come first, then those of them withdrawn since
(`rejected (withdrawn)`: a withdrawal does not undo the day's rejection; counted with the
rejected, and in `withdrawn`), then the ads held for review (`needs_review`) during the day
and still open when the report is built; the `status` column tells the sections apart. A
held ad withdrawn is not open any more, as a decided one is not; an ad withdrawn from any
other status never failed (docs/ad-states.md). Both are the day's: a report of an old day does not list today's holds. Times are ISO 8601 in the retailer's time zone. `decided_at` is when the ad reached its
status (the staff decision, else the end of detailed validation).

Memory stays constant whatever the number of ads: rows come from the database in chunks
(`.iterator(chunk_size=...)`, a server-side cursor on PostgreSQL) and leave as CSV chunks of
about CHUNK_BYTES. The cursor lives inside a transaction of its own (read-only work): outside
one, Django declares it WITH HOLD and fetches from it in later transactions, which PgBouncer
in transaction mode may hand to another server session, where the cursor does not exist. A
transaction keeps the whole stream on one server session (a pooled connection is held for
the download's length, as the cursor held a session before).
"""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from adplatform.csv_cells import csv_safe

from . import selectors

COLUMNS = (
    "status",
    "ad_id",
    "external_ref",
    "submitted_at",
    "decided_at",
    "headline",
    "landing_url",
    "finding_code",
    "finding_message",
)
ROWS_PER_QUERY_CHUNK = 2000
CHUNK_BYTES = 64 * 1024


def day_window(*, day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in a time zone (23 or 25 hours across DST changes)."""
    zone = ZoneInfo(tz)
    return datetime.combine(day, time.min, tzinfo=zone), datetime.combine(
        day + timedelta(days=1), time.min, tzinfo=zone
    )


def parse_report_date(text: str) -> date:
    """A day given as YYYY-MM-DD; raises ValueError with a message for people."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text or ""):
        raise ValueError(f"give the day as YYYY-MM-DD, e.g. 2026-11-03 (got {text!r})")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text} is not a calendar day: {exc}") from exc


def report_filename(*, day: date) -> str:
    return f"failed-ads-{day.isoformat()}.csv"


@dataclass
class FailedAdsReport:
    """One retailer's report for one day. `chunks()` yields the CSV bytes; the counts are
    complete once it is exhausted."""

    retailer_id: object
    day: date
    tz: str
    rejected: int = 0
    needs_review: int = 0
    withdrawn: int = 0  # of the rejected, those withdrawn since

    def chunks(self) -> Iterator[bytes]:
        self.rejected = self.needs_review = self.withdrawn = 0
        zone = ZoneInfo(self.tz)
        start, end = day_window(day=self.day, tz=self.tz)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        window = {"retailer_id": self.retailer_id, "start": start, "end": end}
        sections = (
            ("rejected", selectors.ad_report_rejected(**window)),
            ("rejected", selectors.ad_report_rejected(**window, withdrawn=True)),
            ("needs_review", selectors.ad_report_open_reviews(**window)),
        )
        with transaction.atomic(using=sections[0][1].db):
            yield from self._rows(sections, zone=zone, buffer=buffer, writer=writer)
        yield buffer.getvalue().encode()

    def _rows(self, sections, *, zone, buffer, writer) -> Iterator[bytes]:
        for status, queryset in sections:
            for (
                ad_id,
                ad_status,
                external_ref,
                submitted_at,
                reached_at,
                headline,
                landing_url,
                findings,
                appeal,
            ) in queryset.iterator(chunk_size=ROWS_PER_QUERY_CHUNK):
                if status == "rejected":
                    self.rejected += 1
                else:
                    self.needs_review += 1
                if ad_status == "withdrawn":
                    self.withdrawn += 1
                ad_cells = [
                    status_cell(ad_status, appeal),
                    ad_id,
                    external_ref,
                    _local(submitted_at, zone),
                    _local(reached_at, zone),
                    headline,
                    landing_url,
                ]
                for finding in findings or [{}]:
                    writer.writerow([csv_safe(v) for v in (*ad_cells, finding.get("code"), finding.get("message"))])
                if buffer.tell() >= CHUNK_BYTES:
                    yield buffer.getvalue().encode()
                    buffer.seek(0)
                    buffer.truncate()


def status_cell(status: str, appeal: dict | None) -> str:
    """The status column, with the ad's appeal if it has one: `rejected (appealed)` while a
    reviewer has yet to decide it, `rejected (appeal rejected)` once the verdict stood; a
    rejected ad withdrawn since is `rejected (withdrawn)`, whatever its appeal."""
    if status == "withdrawn":  # only rejected ones are in the report
        return "rejected (withdrawn)"
    if not appeal:
        return status
    if appeal.get("status") == "open":
        return f"{status} (appealed)"
    decision = (appeal.get("decision") or {}).get("status")
    return f"{status} (appeal {decision})" if decision else status


def _local(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="seconds") if value else ""
