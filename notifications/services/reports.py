"""The daily failed-ads report: at most one mail per retailer and day, claimed, built,
mailed and marked sent with its audit entry."""

import gzip
import logging
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import encoders
from email.mime.base import MIMEBase

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from adplatform.kernel.ids import new_id
from adplatform.kernel.models import Retailer
from ads_read.reports import FailedAdsReport, day_window, report_filename
from audit.services import audit_record

from ..models import ReportDelivery

logger = logging.getLogger(__name__)


class ReportError(ValueError):
    """A report that cannot be sent as asked (no contacts, a day not over yet)."""


@dataclass(frozen=True)
class ReportOutcome:
    retailer: str
    day: date
    result: str  # sent | already_sent | in_progress
    delivery: ReportDelivery


def report_claim_expires_in(delivery: ReportDelivery, *, now: datetime | None = None) -> float:
    """Seconds until a claim may be taken over (the worker holding it may have died)."""
    expires = delivery.claimed_at + timedelta(seconds=settings.REPORT_CLAIM_TIMEOUT)
    return max((expires - (now or timezone.now())).total_seconds(), 0.0)


def report_failed_ads_send(
    *, retailer: Retailer, day: date, force: bool = False, now: datetime | None = None, actor: str = "system:reports"
) -> ReportOutcome:
    """Send one retailer's report for one day, at most once (unless force): claim the
    delivery row, build and mail the CSV, mark it sent with its audit entry. SMTP cannot be
    exactly-once: a crash between the send and the mark resends after REPORT_CLAIM_TIMEOUT."""
    now = now or timezone.now()
    if not retailer.report_contacts:
        raise ReportError(f"{retailer.name} has no report contacts")
    if day_window(day=day, tz=retailer.timezone)[1] > now:
        raise ReportError(f"{day} is not over yet in {retailer.timezone}")
    delivery, result = _report_claim(retailer=retailer, day=day, force=force, now=now)
    if result != "claimed":
        return ReportOutcome(retailer=retailer.name, day=day, result=result, delivery=delivery)
    report = FailedAdsReport(retailer_id=retailer.id, day=day, tz=retailer.timezone)
    recipients = list(retailer.report_contacts)
    try:
        with _spooled(report) as (filename, content_type, spool, size):
            message = EmailMessage(
                subject=f"Failed ads on {day.isoformat()}: {report.rejected} rejected, {report.needs_review} awaiting review",
                body=_report_body(
                    retailer=retailer,
                    report=report,
                    filename=filename,
                    attached=size <= settings.REPORT_MAX_ATTACHMENT_BYTES,
                ),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=recipients,
            )
            if size <= settings.REPORT_MAX_ATTACHMENT_BYTES:
                message.attach(_attachment(spool.read(), filename=filename, content_type=content_type))
            message.send()
    except Exception as exc:
        ReportDelivery.objects.filter(id=delivery.id).update(
            status=ReportDelivery.Status.FAILED, last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    sent = {
        "status": ReportDelivery.Status.SENT,
        "sent_at": timezone.now(),
        "recipients": recipients,
        "last_error": "",
        "rejected_count": report.rejected,
        "review_count": report.needs_review,
        "attachment_name": filename,
        "attachment_bytes": size,
    }
    with transaction.atomic():
        ReportDelivery.objects.filter(id=delivery.id).update(**sent)
        audit_record(
            event_id=new_id(),
            action="report.sent",
            actor=actor,
            retailer_id=retailer.id,
            data={
                "date": day.isoformat(),
                "recipients": recipients,
                "rejected": report.rejected,
                "needs_review": report.needs_review,
                "withdrawn": report.withdrawn,
                "attachment": filename,
                "bytes": size,
                "forced": force,
            },
        )
    for name, value in sent.items():  # what was just written: no need to read it back
        setattr(delivery, name, value)
    return ReportOutcome(retailer=retailer.name, day=day, result="sent", delivery=delivery)


def _report_claim(*, retailer: Retailer, day: date, force: bool, now: datetime) -> tuple[ReportDelivery, str]:
    with transaction.atomic():
        # An existing row is read once, locked; a concurrent creator's INSERT makes ours wait
        # for its commit, then get_or_create reads (and locks) the row it made.
        delivery, created = ReportDelivery.objects.select_for_update().get_or_create(
            retailer=retailer,
            date=day,
            defaults={"status": ReportDelivery.Status.CLAIMED, "claimed_at": now, "attempts": 1},
        )
        if created:
            return delivery, "claimed"
        if not force:
            if delivery.status == ReportDelivery.Status.SENT:
                return delivery, "already_sent"
            stale = now - timedelta(seconds=settings.REPORT_CLAIM_TIMEOUT)
            if delivery.status == ReportDelivery.Status.CLAIMED and delivery.claimed_at > stale:
                return delivery, "in_progress"
        delivery.status, delivery.claimed_at, delivery.attempts = (
            ReportDelivery.Status.CLAIMED,
            now,
            delivery.attempts + 1,
        )
        delivery.save(update_fields=["status", "claimed_at", "attempts"])
    return delivery, "claimed"


@contextmanager
def _spooled(report: FailedAdsReport):
    """Stream the CSV into a temporary file (gzipped past REPORT_GZIP_OVER_BYTES); yields
    (filename, content type, open file at its start, size)."""
    filename = report_filename(day=report.day)
    with tempfile.TemporaryFile() as raw:
        for chunk in report.chunks():
            raw.write(chunk)
        size = raw.tell()
        raw.seek(0)
        if size <= settings.REPORT_GZIP_OVER_BYTES:
            yield filename, "text/csv", raw, size
            return
        with tempfile.TemporaryFile() as packed:
            with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as archive:
                shutil.copyfileobj(raw, archive)
            size = packed.tell()
            packed.seek(0)
            yield filename + ".gz", "application/gzip", packed, size


def _attachment(content: bytes, *, filename: str, content_type: str) -> MIMEBase:
    # Base64 whatever the type: a text/csv part sent as 8-bit text may have its line ends
    # rewritten on the way, and the mailed bytes must equal the API's.
    maintype, subtype = content_type.split("/")
    part = MIMEBase(maintype, subtype, **({"charset": "utf-8"} if maintype == "text" else {}))
    part.set_payload(content)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


def _report_body(*, retailer: Retailer, report: FailedAdsReport, filename: str, attached: bool) -> str:
    lines = [
        f"Failed-ads report for {retailer.name}, {report.day.isoformat()} ({report.tz}).",
        "",
        f"Ads rejected during the day: {report.rejected}"
        + (f" ({report.withdrawn} of them withdrawn since)" if report.withdrawn else ""),
        f"Ads held for review during the day, still open: {report.needs_review}",
        "",
    ]
    if attached:
        lines.append(f"The details are in the attached {filename} (one row per finding).")
    else:
        lines.append(
            f"The report is too large to attach; download it with "
            f"GET /api/v1/reports/failed-ads.csv?date={report.day.isoformat()}"
        )
    return "\n".join(lines) + "\n"
