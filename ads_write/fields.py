"""The ad's fields, declared once (AD_POLICY.md, "The ad"): what a retailer sends and what
the ad records about where it stands. Basic validation, the rules engine's input, the
intake event's columns, the admin's fieldsets, the read table's projection and the read
document take their field lists from here; the Django models declare their columns
themselves, and tests/ads_write/test_fields.py holds them to this registry.

Plain data, no Django: both sides import it (the query side may import the write side's
models and this module, `.importlinter`)."""

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a field's value looks on the wire (and so how it is checked and rendered)."""

    ID = "id"  # a UUID the platform assigns
    RETAILER = "retailer"  # the owning retailer (a foreign key: column retailer_id)
    TEXT = "text"  # a string, trimmed, no control characters
    URL = "url"  # an absolute https URL
    HOST_PATH = "host-path"  # a host with an optional path, no scheme needed
    CODE = "code"  # one of a closed set of codes (country, language, category)
    PRICE = "price"  # {amount: decimal string, currency: ISO 4217}: two columns
    INTEGER = "integer"
    DATETIME = "datetime"  # ISO 8601, aware
    BOOLEAN = "boolean"


class Group(StrEnum):
    """The admin's fieldsets."""

    AD = "Ad"
    STATE = "State"


@dataclass(frozen=True)
class AdField:
    name: str
    kind: Kind
    group: Group
    required: bool = False
    max_length: int | None = None  # after trimming, as the policy sets it
    min_value: int | None = None
    max_value: int | None = None
    submitted: bool = False  # the retailer sends it (POST /api/v1/ads)
    editable: bool = False  # the retailer may change it later (PATCH /api/v1/ads/{id})
    in_document: bool = False  # shown in the ad's read document (GET /api/v1/ads/{id})
    not_read: str = ""  # why the read table leaves it out; '' when the projection copies it

    @property
    def columns(self) -> tuple[str, ...]:
        """The model columns (attnames) that store it, on the write side and the read side."""
        if self.kind is Kind.PRICE:
            return (f"{self.name}_amount", f"{self.name}_currency")
        if self.kind is Kind.RETAILER:
            return (f"{self.name}_id",)
        return (self.name,)


def _content(name: str, kind: Kind, **limits) -> AdField:
    # What the retailer wrote: sent with the ad, shown back to it, changeable later.
    return AdField(name, kind, Group.AD, submitted=True, editable=True, in_document=True, **limits)


def _state(name: str, kind: Kind, group: Group = Group.STATE, *, in_document=True, not_read="") -> AdField:
    # What the platform records: never sent or changed by the retailer.
    return AdField(name, kind, group, in_document=in_document, not_read=not_read)


# In the admin's order. The limits are AD_POLICY.md's basic validation.
AD_FIELDS: tuple[AdField, ...] = (
    _state("id", Kind.ID, Group.AD),
    _state("retailer", Kind.RETAILER, Group.AD, in_document=False),  # a retailer reads only its own ads
    _content("external_ref", Kind.TEXT, max_length=64),
    _content("headline", Kind.TEXT, required=True, max_length=90),
    _content("description", Kind.TEXT, required=True, max_length=300),
    _content("landing_url", Kind.URL, required=True, max_length=2048),
    _content("display_url", Kind.HOST_PATH, max_length=255),
    _content("country", Kind.CODE, required=True, max_length=2),
    _content("language", Kind.CODE, required=True, max_length=2),
    _content("category", Kind.CODE, required=True, max_length=32),  # the column; the taxonomy's longest is 11
    _content("price", Kind.PRICE),
    _content("target_min_age", Kind.INTEGER, min_value=13, max_value=99),
    _content("starts_at", Kind.DATETIME),
    _content("ends_at", Kind.DATETIME),
    _content("disclosure", Kind.TEXT, max_length=500),
    _content("advertiser_license", Kind.TEXT, max_length=64),
    _content("paid_for_by", Kind.TEXT, max_length=200),
    _state("status", Kind.CODE),  # ads_write.models.AdStatus
    _state("version", Kind.INTEGER),
    _state("submitted_at", Kind.DATETIME),
    _state("reviewed_at", Kind.DATETIME),
    _state("decided_at", Kind.DATETIME),
    _state("ruleset_version", Kind.TEXT),
    # The retailer's commands (services/commands.py, docs/ad-states.md).
    _state("paused", Kind.BOOLEAN),
    _state("withdrawn_at", Kind.DATETIME),
    _state("withdrawn_from", Kind.CODE, in_document=False),  # read by the failed-ads report
    _state(
        "action",
        Kind.TEXT,
        in_document=False,
        not_read="The command that made `action_version`: the projection keeps it only for that version.",
    ),
    _state(
        "action_version",
        Kind.INTEGER,
        in_document=False,
        not_read="Read with `action`, which the read table keeps only for the version the command made.",
    ),
    _state(
        "command_at",
        Kind.DATETIME,
        in_document=False,
        not_read="When the last command was stored: the read-model sweep's window, of no use to a reader.",
    ),
    _state(
        "intake_event_id",
        Kind.ID,
        in_document=False,
        not_read="The ad.submitted event's id: the write side's deduplication key, of no use to a reader.",
    ),
)
FIELDS_BY_NAME = {field.name: field for field in AD_FIELDS}
# What a retailer sends, in the order basic validation reports its errors.
SUBMITTED_FIELDS = tuple(field for field in AD_FIELDS if field.submitted)
EDITABLE_FIELDS = tuple(field for field in AD_FIELDS if field.editable)
# The write model's columns that the projection copies into the read table as they are.
READ_COLUMNS = tuple(column for field in AD_FIELDS if not field.not_read for column in field.columns)


def names(fields, *kinds: Kind) -> tuple[str, ...]:
    """The names of `fields` of the given kinds (of every kind if none are given)."""
    return tuple(field.name for field in fields if not kinds or field.kind in kinds)


def admin_fieldsets() -> tuple:
    """The admin's fieldsets: each group's fields, in registry order."""
    return tuple((group.value, {"fields": names(f for f in AD_FIELDS if f.group is group)}) for group in Group)
