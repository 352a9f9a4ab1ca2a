"""The event envelope that travels the pipeline (JSON, versioned schema)."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .ids import new_id_str

SCHEMA_VERSION = 1

# The message the write side publishes when an ad's state changed (a list of ad ids), and
# the read side's sweep when a read row fell behind: the contract between the two sides,
# named here so that neither imports the other for it.
PROJECT_ADS_TASK = "ads_read.tasks.project_ads_task"
# Ad ids per projection message published for many ads at once (the sweep, revalidation).
PROJECTION_MESSAGE_SIZE = 100


class InvalidEvent(ValueError):
    pass


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Event:
    type: str  # ad.submitted, ad.validated, ad.decided, ...
    ad_id: str
    retailer_id: str
    version: int  # the ad's version this event brings it to
    data: dict
    event_id: str = field(default_factory=new_id_str)
    occurred_at: str = field(default_factory=_now)
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict:
        # Not dataclasses.asdict: its deep copy of `data` was most of the cost of a batch.
        return {
            "type": self.type,
            "ad_id": self.ad_id,
            "retailer_id": self.retailer_id,
            "version": self.version,
            "data": self.data,
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "schema": self.schema,
        }

    @classmethod
    def from_dict(cls, raw) -> "Event":
        if not isinstance(raw, dict):
            raise InvalidEvent(f"an event must be an object, got {type(raw).__name__}")
        if raw.get("schema") != SCHEMA_VERSION:
            raise InvalidEvent(f"unsupported event schema {raw.get('schema')!r}")
        try:
            event = cls(
                **{
                    k: raw[k]
                    for k in ("type", "ad_id", "retailer_id", "version", "data", "event_id", "occurred_at", "schema")
                }
            )
            uuid.UUID(event.ad_id), uuid.UUID(event.retailer_id), uuid.UUID(event.event_id)
            datetime.fromisoformat(event.occurred_at)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidEvent(f"malformed event: {exc}") from exc
        if not isinstance(event.data, dict) or not isinstance(event.version, int):
            raise InvalidEvent("malformed event: data must be an object and version an integer")
        return event
