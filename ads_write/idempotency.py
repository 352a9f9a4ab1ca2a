"""Idempotency keys on POST (Stripe's contract), for every POST view: decorate its handler
with `@idempotent`.

- A POST with an `Idempotency-Key` header claims the key for the calling retailer; its answer
  (status, body, Location) is stored with the key for settings.IDEMPOTENCY_KEY_TTL (24 h).
- A retry with the same key and the same request (SHA-256 of method, path with query string,
  and body) gets the stored answer again, marked `Idempotent-Replayed: true`; nothing runs twice.
- The same key with another request is a 422 (`idempotency-key-reused`).
- While the first request runs, another with the same key gets a 409
  (`idempotency-key-in-flight`) with `Retry-After`, and no second ad: the unique (retailer,
  key) row is the lock, so this holds across any number of web processes.
- 5xx answers are not stored (the key is released): they say "try again", and the retry runs.
- A key older than the TTL counts as new; a claim still in flight after
  settings.IDEMPOTENCY_LOCK_TIMEOUT is taken to belong to a request that died, and may be
  taken over. A beat task purges expired keys.

Keys are request plumbing, not domain state: they are not audited.
"""

import functools
import hashlib
import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from adplatform.kernel.bulk import delete_in_chunks
from adplatform.problems import problem

from .models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")
_STORED_HEADERS = ("Content-Type", "Location", "ETag")
_CLAIM_ATTEMPTS = 3
_PURGE_CHUNK = 10_000


def request_fingerprint(request) -> str:
    digest = hashlib.sha256(f"{request.method} {request.get_full_path()}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def idempotency_key_claim(*, retailer_id, key: str, fingerprint: str) -> IdempotencyKey:
    """Claim `key` for a request. Returns the claimed row (state in_flight: run the request),
    or the completed row of an earlier identical request (replay its answer). Raises the 422
    and 409 problems."""
    for _ in range(_CLAIM_ATTEMPTS):
        now = timezone.now()
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    retailer_id=retailer_id, key=key, fingerprint=fingerprint, created_at=now
                )
        except IntegrityError:
            pass
        record = IdempotencyKey.objects.filter(retailer_id=retailer_id, key=key).first()
        if record is None:
            continue  # purged since: claim again
        expired = record.created_at <= now - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)
        if not expired and record.fingerprint != fingerprint:
            raise problem(
                "idempotency-key-reused",
                detail="This key was first used with another method, path or body; use a new key for a new request.",
            )
        if not expired and record.state == IdempotencyKey.State.COMPLETED:
            return record
        abandoned = record.created_at <= now - timedelta(seconds=settings.IDEMPOTENCY_LOCK_TIMEOUT)
        if not (expired or abandoned):
            raise problem(
                "idempotency-key-in-flight",
                detail="A request with this key is still running; retry to get its answer.",
                headers={"Retry-After": "1"},
            )
        taken = _take_over(record, fingerprint=fingerprint, now=now)
        if taken is not None:
            return taken
    raise problem("idempotency-key-in-flight", detail="This key is contended; retry.", headers={"Retry-After": "1"})


def _take_over(record: IdempotencyKey, *, fingerprint: str, now) -> IdempotencyKey | None:
    """Reuse an expired or abandoned row, unless another request took it first."""
    fresh = {
        "fingerprint": fingerprint,
        "state": IdempotencyKey.State.IN_FLIGHT,
        "created_at": now,
        "response_status": None,
        "response_headers": {},
        "response_body": None,
    }
    won = IdempotencyKey.objects.filter(pk=record.pk, created_at=record.created_at, state=record.state).update(**fresh)
    if not won:
        return None
    for name, value in fresh.items():
        setattr(record, name, value)
    return record


def idempotency_key_complete(*, record: IdempotencyKey, response: HttpResponse) -> None:
    """Store the answer of the request that holds the claim."""
    IdempotencyKey.objects.filter(
        pk=record.pk, created_at=record.created_at, state=IdempotencyKey.State.IN_FLIGHT
    ).update(
        state=IdempotencyKey.State.COMPLETED,
        response_status=response.status_code,
        response_headers={name: response[name] for name in _STORED_HEADERS if name in response},
        # A view may keep a secret out of the store (and so out of the replay): replay_content.
        response_body=getattr(response, "replay_content", response.content),
    )


def idempotency_key_release(*, record: IdempotencyKey) -> None:
    """Drop a claim whose request failed on our side, so that a retry runs."""
    IdempotencyKey.objects.filter(
        pk=record.pk, created_at=record.created_at, state=IdempotencyKey.State.IN_FLIGHT
    ).delete()


def idempotency_keys_purge() -> int:
    """Delete expired keys, a chunk at a time so that no statement holds many locks."""
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)
    return delete_in_chunks(IdempotencyKey.objects.filter(created_at__lt=cutoff), chunk_size=_PURGE_CHUNK)


def _replay(record: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body), status=record.response_status, headers=record.response_headers)
    response[REPLAYED_HEADER] = "true"
    return response


def _rendered(response) -> HttpResponse:
    """The answer as bytes, to store and send the same bytes (views may answer bytes already)."""
    if not isinstance(response, Response):
        return response
    rendered = HttpResponse(
        JSONRenderer().render(response.data),
        status=response.status_code,
        content_type=response.content_type or "application/json",
    )
    for name, value in response.items():
        if name != "Content-Type":  # DRF sets it only when it renders
            rendered[name] = value
    if getattr(response, "replay_data", None) is not None:
        rendered.replay_content = JSONRenderer().render(response.replay_data)
    return rendered


def idempotent(handler):
    """Decorate a DRF view's POST handler (after authentication, which names the retailer)."""

    @functools.wraps(handler)
    def handle(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not _VALID_KEY.match(key):
            raise problem(
                "invalid-idempotency-key", detail="An Idempotency-Key is 1 to 255 printable ASCII characters."
            )
        record = idempotency_key_claim(
            retailer_id=request.caller.retailer.id, key=key, fingerprint=request_fingerprint(request)
        )
        if record.state == IdempotencyKey.State.COMPLETED:
            return _replay(record)
        try:
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:
                response = view.handle_exception(exc)  # the problem answer, stored like any other
            response = _rendered(response)
        except BaseException:
            idempotency_key_release(record=record)
            raise
        if response.status_code >= 500:
            idempotency_key_release(record=record)
        else:
            idempotency_key_complete(record=record, response=response)
        return response

    handle.idempotent = True  # every POST handler must carry this (a test walks the URLs)
    return handle
