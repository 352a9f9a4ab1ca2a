"""Webhooks: the retailer's endpoints, one delivery per subscribed endpoint and ad version
(created by the projection), and sending them with retries and backoff."""

import json
import logging
import random
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from adplatform.kernel.ids import new_id
from adplatform.kernel.models import Retailer
from ads_read.models import AdView
from ads_read.serializers import ad_document
from ads_write.models import FINAL_STATUSES, AdStatus
from audit.services import audit_record

from .. import webhooks
from ..models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint

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


def webhook_secrets_reencrypt(*, actor: str, data: dict | None = None) -> int:
    """Encrypt every endpoint's signing secret again under the current key
    (settings.WEBHOOK_SECRET_KEY_ID), after a key rotation; the old key may be dropped once
    this ran. Audited (`webhook.secrets_reencrypted`: who, the key, how many, and `data`) in
    the same transaction. Raises SecretUnreadable on a secret that no configured key opens,
    leaving the rest as they were. Returns how many were re-encrypted."""
    endpoints = WebhookEndpoint.objects.only("id", "secret").order_by("id")
    key_id = settings.WEBHOOK_SECRET_KEY_ID
    with transaction.atomic():
        count = 0
        for endpoint in endpoints.select_for_update():  # at most WEBHOOK_MAX_ENDPOINTS a retailer
            # The field decrypted it on load (any configured key) and encrypts it on save.
            WebhookEndpoint.objects.filter(id=endpoint.id).update(secret=endpoint.secret)
            count += 1
        audit_record(
            event_id=new_id(),
            action="webhook.secrets_reencrypted",
            actor=actor,
            data={**(data or {}), "key_id": key_id, "count": count},
        )
    logger.info("webhook secrets re-encrypted under key %s by %s: %d", key_id, actor, count)
    return count


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


_ANNOUNCED = (*FINAL_STATUSES, AdStatus.WITHDRAWN)
_COMMANDS = ("ad.paused", "ad.resumed", "ad.withdrawn")


def event_type_of(ad: AdView) -> str | None:
    """The event an ad's new state is announced as; None for the retailer's own appeal (it
    changes the ad's version, not its outcome: the decision on it is the news)."""
    # Nothing changes a decided appeal's ad but a new appeal (open again): a decided appeal
    # in the row means this version is its decision.
    if ad.change:
        return None  # a change accepted: its verdict is the news (ad.changed)
    if ad.action:
        return f"ad.{ad.action}"
    appeal_status = (ad.appeal or {}).get("status")
    if appeal_status == "decided":
        return "ad.appeal_decided"
    if appeal_status == "open":
        return None
    return "ad.decided" if ad.decided_at else f"ad.{ad.status}"


def _subscribed(endpoint: WebhookEndpoint, ad: AdView) -> bool:
    # A staff decision is announced as ad.decided (an appeal's as ad.appeal_decided), and
    # also reaches those who follow the outcome (ad.approved / ad.rejected): "tell me about
    # every rejection" includes staff's.
    # Pausing, resuming and withdrawing are no verdict: only their own subscribers hear of them.
    event_type = event_type_of(ad)
    wanted = {event_type} if event_type in _COMMANDS else {event_type, f"ad.{ad.status}"}
    return bool(wanted & set(endpoint.events))


def webhook_deliveries_create(*, ads: list[AdView]) -> int:
    """Create the deliveries for ad states a projection has just applied (call it inside the
    projection's transaction); publish their send task after commit. Idempotent: one
    delivery per endpoint and ad version. Returns how many rows it tried to create."""
    final = [ad for ad in ads if ad.status in _ANNOUNCED and event_type_of(ad) is not None]
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
