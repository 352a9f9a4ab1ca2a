"""Telling retailers: webhooks on every final verdict, the daily failed-ads report by e-mail,
and the retailer's own notification settings."""

import gzip
import json
import logging
import random
import secrets
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import encoders
from email.mime.base import MIMEBase

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from adplatform.kernel.ids import new_id
from adplatform.kernel.models import Retailer
from ads_read.models import AdView
from ads_read.reports import FailedAdsReport, day_window, report_filename
from ads_read.serializers import ad_document
from ads_write.models import FINAL_STATUSES
from audit.services import audit_record

from . import webhooks
from .models import WEBHOOK_EVENTS, ReportDelivery, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

WEBHOOK_SEND_TASK = "notifications.tasks.webhook_send_task"
# Names the event of one ad version: the same id for every endpoint and every retry.
_EVENT_NAMESPACE = uuid.UUID("0b6c2f4e-8f0a-4d7b-9a61-3c5e2d7f9b14")
# Deliveries claimed per transaction, and how long a claim keeps others off: longer than a
# batch can take (each POST is bounded by the connect timeout per address and the read timeout).
CLAIM_BATCH = 5
CLAIM_SECONDS = 150


class WebhookError(ValueError):
    """A webhook registration that cannot be accepted (bad URL, refused target, limits)."""


class ReportError(ValueError):
    """A report that cannot be sent as asked (no contacts, a day not over yet)."""


# --- webhook endpoints -------------------------------------------------------------------------
def webhook_endpoint_create(*, retailer: Retailer, url: str, events: list[str], actor: str) -> WebhookEndpoint:
    """Register an endpoint. The URL is checked now (form and every resolved address) and
    again at each send, since DNS can change in between."""
    unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
    if not events or unknown:
        raise WebhookError(
            f"events must be a non-empty subset of {', '.join(WEBHOOK_EVENTS)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    try:
        webhooks.resolve_checked(webhooks.url_check(url))
    except webhooks.UnsafeTarget as exc:
        raise WebhookError(str(exc)) from exc
    with transaction.atomic():
        # Serialise registrations of one retailer so the limit holds under concurrent calls.
        Retailer.objects.select_for_update().filter(id=retailer.id).first()
        if WebhookEndpoint.objects.filter(retailer=retailer).count() >= settings.WEBHOOK_MAX_ENDPOINTS:
            raise WebhookError(f"at most {settings.WEBHOOK_MAX_ENDPOINTS} webhook endpoints per account")
        endpoint = WebhookEndpoint.objects.create(
            retailer=retailer, url=url, events=sorted(set(events)), secret=f"whsec_{secrets.token_urlsafe(32)}"
        )
        audit_record(
            event_id=new_id(),
            action="webhook.created",
            actor=actor,
            retailer_id=retailer.id,
            data={"endpoint_id": str(endpoint.id), "url": url, "events": endpoint.events},
        )
    return endpoint


def webhook_endpoint_delete(*, retailer: Retailer, endpoint_id, actor: str) -> bool:
    """Delete one of the retailer's endpoints with its pending deliveries. False if it has
    no such endpoint."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(retailer=retailer, id=endpoint_id).first()
        if endpoint is None:
            return False
        audit_record(
            event_id=new_id(),
            action="webhook.deleted",
            actor=actor,
            retailer_id=retailer.id,
            data={"endpoint_id": str(endpoint.id), "url": endpoint.url},
        )
        endpoint.delete()
    return True


# --- webhook deliveries ------------------------------------------------------------------------
def event_type_of(ad: AdView) -> str:
    return "ad.decided" if ad.decided_at else f"ad.{ad.status}"


def _subscribed(endpoint: WebhookEndpoint, ad: AdView) -> bool:
    # A staff decision is announced as ad.decided, and also reaches those who follow the
    # outcome (ad.approved / ad.rejected): "tell me about every rejection" includes staff's.
    wanted = {event_type_of(ad), f"ad.{ad.status}"}
    return bool(wanted & set(endpoint.events))


def webhook_deliveries_create(*, ads: list[AdView]) -> int:
    """Create the deliveries for ad states a projection has just applied (call it inside the
    projection's transaction); publish their send task after commit. Idempotent: one
    delivery per endpoint and ad version. Returns how many rows it tried to create."""
    final = [ad for ad in ads if ad.status in FINAL_STATUSES]
    if not final:
        return 0
    endpoints: dict = {}
    for endpoint in WebhookEndpoint.objects.filter(retailer_id__in={ad.retailer_id for ad in final}):
        endpoints.setdefault(endpoint.retailer_id, []).append(endpoint)
    now = timezone.now()
    rows = []
    for ad in final:
        targets = [e for e in endpoints.get(ad.retailer_id, []) if _subscribed(e, ad)]
        if not targets:
            continue
        event_id = uuid.uuid5(_EVENT_NAMESPACE, f"{ad.id}:{ad.version}")
        event_type = event_type_of(ad)
        body = json.dumps(
            {"event_id": str(event_id), "type": event_type, "created_at": now.isoformat(), "ad": ad_document(ad)},
            cls=JSONEncoder,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        rows += [
            WebhookDelivery(
                endpoint=endpoint,
                event_id=event_id,
                event_type=event_type,
                ad_id=ad.id,
                version=ad.version,
                body=body,
                next_attempt_at=now,
                created_at=now,
            )
            for endpoint in targets
        ]
    if rows:
        WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        event_ids = sorted({str(row.event_id) for row in rows})
        transaction.on_commit(lambda: _publish_send(event_ids), robust=True)
    return len(rows)


def _publish_send(event_ids: list[str]) -> None:
    from adplatform.celery import app

    try:
        app.send_task(WEBHOOK_SEND_TASK, args=[event_ids])
    except Exception:  # the broker is down: the sweep sends them
        logger.warning("could not publish webhook sends for %d events; the sweep will", len(event_ids), exc_info=True)


def webhook_backoff(attempts: int) -> timedelta:
    """The wait after the given number of failed attempts: 30 s, 1 min, 2 min, … capped at
    WEBHOOK_BACKOFF_MAX, each ±25% so that failing receivers are not hit in lockstep."""
    nominal = min(settings.WEBHOOK_BACKOFF_BASE * 2 ** (attempts - 1), settings.WEBHOOK_BACKOFF_MAX)
    return timedelta(seconds=nominal * random.uniform(0.75, 1.25))


def webhook_deliveries_send(
    *, event_ids: list | None = None, now: datetime | None = None, limit: int | None = None
) -> int:
    """Send due deliveries (of the given events, or all): claim a batch with SKIP LOCKED so
    concurrent workers take different rows, push its retry time past the claim so nobody
    else sends it meanwhile, commit, then POST each and record the outcome. A worker that
    dies mid-batch leaves its rows to be retried when the claim runs out (at-least-once).
    `now` defaults to the clock. Returns the number of attempts made."""
    attempted = 0
    while limit is None or attempted < limit:
        moment = now or timezone.now()
        with transaction.atomic():
            due = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=moment)
            if event_ids is not None:
                due = due.filter(event_id__in=event_ids)
            size = CLAIM_BATCH if limit is None else min(CLAIM_BATCH, limit - attempted)
            batch = list(
                due.select_for_update(skip_locked=True, of=("self",))
                .select_related("endpoint")
                .order_by("next_attempt_at")[:size]
            )
            if not batch:
                return attempted
            WebhookDelivery.objects.filter(id__in=[d.id for d in batch]).update(
                next_attempt_at=moment + timedelta(seconds=CLAIM_SECONDS)
            )
        for delivery in batch:
            _attempt(delivery, now=now or timezone.now())
            attempted += 1
    return attempted


def _attempt(delivery: WebhookDelivery, *, now: datetime) -> None:
    body = delivery.body.encode()
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "adplatform-webhooks/1",
        webhooks.EVENT_ID_HEADER: str(delivery.event_id),
        webhooks.EVENT_TYPE_HEADER: delivery.event_type,
        webhooks.SIGNATURE_HEADER: webhooks.signature_header(
            secret=delivery.endpoint.secret, timestamp=timestamp, body=body
        ),
    }
    status_code, error = None, ""
    try:
        status_code, answer = webhooks.post(url=delivery.endpoint.url, body=body, headers=headers)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {answer}".strip()
    except webhooks.DeliveryFailed as exc:
        error = str(exc)
    first = delivery.first_attempt_at or now
    outcome = {
        "attempts": F("attempts") + 1,
        "first_attempt_at": first,
        "last_attempt_at": now,
        "last_status_code": status_code,
        "last_error": error[:2000],
    }
    deadline = first + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW)
    if not error:
        outcome.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now)
    elif now >= deadline:
        outcome.update(status=WebhookDelivery.Status.FAILED)
    else:
        # The last retry lands on the window's end, so the window is used in full.
        outcome.update(next_attempt_at=min(now + webhook_backoff(delivery.attempts + 1), deadline))
    WebhookDelivery.objects.filter(id=delivery.id, status=WebhookDelivery.Status.PENDING).update(**outcome)
    if error:
        logger.info(
            "webhook %s to %s failed (attempt %d): %s",
            delivery.event_id,
            delivery.endpoint.url,
            delivery.attempts + 1,
            error,
        )


# --- notification settings -------------------------------------------------------------------
def retailer_settings_update(
    *, retailer: Retailer, actor: str, report_contacts: list[str] | None = None, timezone_name: str | None = None
) -> Retailer:
    """Change where and when the retailer's reports go (already validated by the caller)."""
    with transaction.atomic():
        retailer = Retailer.objects.select_for_update().get(id=retailer.id)
        changes = {}
        if report_contacts is not None and report_contacts != retailer.report_contacts:
            changes["report_contacts"] = {"from": retailer.report_contacts, "to": report_contacts}
            retailer.report_contacts = report_contacts
        if timezone_name is not None and timezone_name != retailer.timezone:
            changes["timezone"] = {"from": retailer.timezone, "to": timezone_name}
            retailer.timezone = timezone_name
        if changes:
            retailer.save(update_fields=list(changes))
            audit_record(
                event_id=new_id(),
                action="retailer.settings_updated",
                actor=actor,
                retailer_id=retailer.id,
                data=changes,
            )
    return retailer


# --- the daily failed-ads report --------------------------------------------------------------
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
        f"Ads rejected during the day: {report.rejected}",
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
