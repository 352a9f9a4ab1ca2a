"""The intake event of an ad and the ids of what follows from it: what intake publishes, what
consumers store, and what a replay rebuilds from a stored ad."""

import uuid
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from django.conf import settings

from adplatform.kernel.events import Event

from ..fields import SUBMITTED_FIELDS, Kind, names
from ..models import Ad
from ..validation.engine import ad_input

# Intake messages go to the buffering consumer when INTAKE_BATCHING is on (see tasks.py).
PROCESS_SUBMISSIONS_TASK = (
    "ads_write.tasks.process_submissions_batch_task"
    if settings.INTAKE_BATCHING
    else "ads_write.tasks.process_submissions_task"
)


# Derives the ids of events that follow from another (a verdict from its intake event), so a
# redelivered event yields the same ids and the same single audit entry.
_DERIVED_EVENT_NAMESPACE = uuid.UUID("6f1d3c0e-2b7a-4a51-9a3e-5d2f0c1b7e11")


_DATETIME_FIELDS = names(SUBMITTED_FIELDS, Kind.DATETIME)
_NOT_JSON_SAFE = frozenset(names(SUBMITTED_FIELDS, Kind.DATETIME, Kind.PRICE))


def ad_event_data(ad: dict) -> dict:
    """The normalised ad (from basic validation) as JSON-safe event data."""
    data = {k: v for k, v in ad.items() if k not in _NOT_JSON_SAFE}
    for name in _DATETIME_FIELDS:
        if ad.get(name):
            data[name] = ad[name].isoformat()
    if ad.get("price"):
        data["price"] = {"amount": str(ad["price"]["amount"]), "currency": ad["price"]["currency"]}
    return data


# What the event adds to the submitted fields (ad_row stores submitted_at its own way).
_EVENT_ONLY = frozenset({"submitted_at", "actor"})


def _ad_model_fields(data: dict) -> dict:
    """The Ad columns of an ad.submitted event's data: the submitted fields, the price in its
    two columns; any other key is left in, for ad_row to refuse."""
    fields = {k: v for k, v in data.items() if k not in _EVENT_ONLY | _NOT_JSON_SAFE}
    for name in _DATETIME_FIELDS:
        if data.get(name):
            fields[name] = datetime.fromisoformat(data[name])
    if data.get("price"):
        fields["price_amount"] = Decimal(data["price"]["amount"])
        fields["price_currency"] = data["price"]["currency"]
    return fields


AD_FIELDS = Ad._meta.concrete_fields


def ad_row(event: Event, *, defaults: dict) -> tuple:
    fields = _ad_model_fields(event.data)
    unknown = fields.keys() - defaults.keys()
    if unknown:
        raise ValueError(f"ad.submitted event {event.event_id} has fields an ad does not: {sorted(unknown)}")
    values = {
        **defaults,
        "id": event.ad_id,
        "retailer_id": event.retailer_id,
        "intake_event_id": event.event_id,
        "submitted_at": datetime.fromisoformat(event.data["submitted_at"]),
        **fields,
    }
    return tuple(values[f.attname] for f in AD_FIELDS)


_AD_UUIDS = [i for i, f in enumerate(AD_FIELDS) if f.attname in ("id", "retailer_id", "intake_event_id")]
_AD_TIMES = [i for i, f in enumerate(AD_FIELDS) if f.get_internal_type() == "DateTimeField"]
_AD_PRICE = next(i for i, f in enumerate(AD_FIELDS) if f.attname == "price_amount")
_CENT = Decimal("0.01")


def ad_as_stored(row: tuple, *, using: str) -> Ad:
    """The Ad that reading back `row` (of ad_row, just inserted) would give: ids as UUIDs,
    times in UTC, the price at its two places, plain strings, as the database returns them.
    The consumer judges it without a query for what it has just written (and ~10,000 model
    instances per 5,000 ads, with their retailers)."""
    values = [value.value if isinstance(value, Enum) else value for value in row]  # defaults such as AdStatus.PENDING
    for i in _AD_UUIDS:
        values[i] = uuid.UUID(values[i]) if isinstance(values[i], str) else values[i]
    for i in _AD_TIMES:
        if values[i] is not None and values[i].tzinfo is not None:
            values[i] = values[i].astimezone(UTC)
    if values[_AD_PRICE] is not None:
        values[_AD_PRICE] = values[_AD_PRICE].quantize(_CENT, rounding=ROUND_HALF_UP)
    return Ad.from_db(using, None, values)


def derived_event_id(event_id, suffix: str) -> uuid.UUID:
    return uuid.uuid5(_DERIVED_EVENT_NAMESPACE, f"{event_id}:{suffix}")


def submitted_event(*, ad_id, retailer_id, ad: dict, actor: str, at: str, event_id=None) -> Event:
    """The ad.submitted event of an ad that passed basic validation, accepted at `at` (ISO
    time): what intake publishes, and (with its original event id) what a replay rebuilds."""
    return Event(
        type="ad.submitted",
        ad_id=str(ad_id),
        retailer_id=str(retailer_id),
        version=1,
        occurred_at=at,
        data={**ad_event_data(ad), "submitted_at": at, "actor": actor},
        **({"event_id": str(event_id)} if event_id else {}),
    )


def replayed_submitted_event(ad: Ad, *, actor: str) -> Event:
    """The intake event of a stored ad, rebuilt with its original event id and time, so
    that consumers treat it as the redelivery it is."""
    return submitted_event(
        ad_id=ad.id,
        retailer_id=ad.retailer_id,
        ad=ad_input(ad),
        actor=actor,
        at=ad.submitted_at.isoformat(),
        event_id=ad.intake_event_id,
    )
