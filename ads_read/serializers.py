import json
import operator
from datetime import UTC, datetime
from decimal import Decimal

from django.db import models
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from ads_write.fields import FIELDS_BY_NAME, SUBMITTED_FIELDS, Kind
from ads_write.models import AdStatus

from .models import AdView
from .pending import PendingAd


class FindingSerializer(serializers.Serializer):
    code = serializers.CharField()
    category = serializers.CharField()
    severity = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_null=True)
    evidence = serializers.DictField()


class PriceSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()


class DecisionSerializer(serializers.Serializer):
    by = serializers.CharField()
    reason = serializers.CharField()


class AppealDecisionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[AdStatus.APPROVED, AdStatus.REJECTED])
    by = serializers.CharField()
    reason = serializers.CharField()
    decided_at = serializers.DateTimeField()


class AppealDocumentSerializer(serializers.Serializer):
    """The retailer's appeal of the ad's verdict, and its decision once a reviewer made it."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(
        choices=["open", "decided", "superseded"],
        help_text="`superseded`: the ad was judged again before a reviewer decided (its content changed, or a "
        "new ruleset revalidated it); the appealed verdict no longer stands, and the ad's new one may be appealed.",
    )
    message = serializers.CharField()
    verdict_version = serializers.IntegerField(help_text="The version of the verdict appealed against.")
    submitted_at = serializers.DateTimeField()
    decision = AppealDecisionSerializer(allow_null=True)


def appeal_document(appeal) -> dict:
    """An appeal (ads_write.models.Appeal) as the API shows it; the projection stores it in
    the read row as such."""
    decided = appeal.status == "decided"
    return {
        "id": str(appeal.id),
        "status": appeal.status,
        "message": appeal.message,
        "verdict_version": appeal.verdict_version,
        "submitted_at": _datetime(appeal.submitted_at),
        "decision": {
            "status": appeal.decision_status,
            "by": appeal.decided_by,
            "reason": appeal.decision_reason,
            "decided_at": _datetime(appeal.decided_at),
        }
        if decided
        else None,
    }


class ChangeDocumentSerializer(serializers.Serializer):
    """A change of the ad's content that is being judged: the ad shows its last judged content
    (an approved ad keeps serving it) until the change's verdict makes it the ad's content."""

    version = serializers.IntegerField(help_text="The ad version that accepted the change.")
    status = serializers.ChoiceField(choices=["pending"])
    fields = serializers.ListField(child=serializers.CharField(), help_text="The fields it changes.")
    submitted_at = serializers.DateTimeField()


def change_document(change) -> dict:
    """A change waiting for judgement (ads_write.models.AdChange) as the API shows it; the
    projection stores it in the read row as such."""
    return {
        "version": change.version,
        "status": "pending",
        "fields": sorted(change.fields),
        "submitted_at": _datetime(change.submitted_at),
    }


class AdViewSerializer(serializers.Serializer):
    """An ad as the retailer reads it. A pending stand-in (accepted, not yet projected) has
    only id, status, external_ref and submitted_at; the rest is null. Every field is always
    present (read-only fields are `required` in the schema), null where it has no value.
    The fields are the OpenAPI schema of DOCUMENT_KEYS (below; a test holds them together)."""

    id = serializers.UUIDField(read_only=True)
    status = serializers.ChoiceField(choices=AdStatus.values, read_only=True)
    external_ref = serializers.CharField(allow_blank=True, default="", read_only=True)
    headline = serializers.CharField(allow_null=True, default=None, read_only=True)
    description = serializers.CharField(allow_null=True, default=None, read_only=True)
    landing_url = serializers.CharField(allow_null=True, default=None, read_only=True)
    display_url = serializers.CharField(allow_null=True, default=None, read_only=True)
    country = serializers.CharField(allow_null=True, default=None, read_only=True)
    language = serializers.CharField(allow_null=True, default=None, read_only=True)
    category = serializers.CharField(allow_null=True, default=None, read_only=True)
    price = serializers.SerializerMethodField()
    target_min_age = serializers.IntegerField(allow_null=True, default=None, read_only=True)
    starts_at = serializers.DateTimeField(allow_null=True, default=None, read_only=True)
    ends_at = serializers.DateTimeField(allow_null=True, default=None, read_only=True)
    disclosure = serializers.CharField(allow_null=True, default=None, read_only=True)
    advertiser_license = serializers.CharField(allow_null=True, default=None, read_only=True)
    paid_for_by = serializers.CharField(allow_null=True, default=None, read_only=True)
    findings = FindingSerializer(many=True, default=list, read_only=True)
    ruleset_version = serializers.CharField(allow_null=True, default=None, read_only=True)
    submitted_at = serializers.DateTimeField(read_only=True)
    reviewed_at = serializers.DateTimeField(allow_null=True, default=None, read_only=True)
    decided_at = serializers.DateTimeField(allow_null=True, default=None, read_only=True)
    decision = serializers.SerializerMethodField()
    version = serializers.IntegerField(default=0, read_only=True)
    appeal = serializers.SerializerMethodField()
    paused = serializers.BooleanField(
        default=False, read_only=True, help_text="Paused by the retailer: an approved ad stays approved, not live."
    )
    withdrawn_at = serializers.DateTimeField(allow_null=True, default=None, read_only=True)
    change = serializers.SerializerMethodField()

    # For the schema only (see to_representation).
    def get_price(self, obj) -> PriceSerializer(allow_null=True): ...

    def get_decision(self, obj) -> DecisionSerializer(allow_null=True): ...

    def get_appeal(self, obj) -> AppealDocumentSerializer(allow_null=True): ...

    def get_change(self, obj) -> ChangeDocumentSerializer(allow_null=True): ...

    def to_representation(self, instance):
        # Rendered by `ad_document`, not field by field: DRF copies and runs the 27 declared
        # fields for every ad, a fifth of a read by id and more of a list. The fields above
        # stay as the OpenAPI schema; a test holds the two to the same output.
        return ad_document(instance)


def ad_document(ad) -> dict:
    """The API representation of a read row — an AdView, or a dict of its DOCUMENT_COLUMNS
    as the lists read them — or of a PendingAd (accepted, not yet projected: only id,
    external_ref and submitted_at are known)."""
    if isinstance(ad, PendingAd):
        document = dict.fromkeys(AdViewSerializer._declared_fields)
        document.update(
            id=str(ad["id"]),
            status="pending",
            external_ref=ad.get("external_ref", ""),
            submitted_at=_datetime(datetime.fromisoformat(ad["submitted_at"])),
            findings=[],
            version=0,
            paused=False,
        )
        return document
    row = ad if isinstance(ad, dict) else ad.__dict__  # an instance's field values, by attname
    return {key: render(row) for key, render in _RENDERERS}


FINDING_KEYS = tuple(FindingSerializer._declared_fields)
# What the read side adds to the ad's registry fields: its findings, the staff decision, the
# latest appeal; each with the read columns it is made of.
READ_SIDE_KEYS = {
    "findings": ("findings",),
    "decision": ("decided_by", "decision_reason"),
    "appeal": ("appeal",),
    "change": ("change",),
}
# The document's keys, in the order clients have always had them: the registry's fields that
# the document shows (every submitted one among them), and the read side's own.
DOCUMENT_KEYS = (
    "id",
    "status",
    *(field.name for field in SUBMITTED_FIELDS if field.in_document),
    "findings",
    "ruleset_version",
    "submitted_at",
    "reviewed_at",
    "decided_at",
    "decision",
    "version",
    "appeal",  # added after the rest: the keys before it render as they always did
    "paused",
    "withdrawn_at",
    "change",  # the change being judged, if any (docs/ad-states.md)
)
# The read columns the document is made of: what lists select (ads_read.selectors).
DOCUMENT_COLUMNS = tuple(
    column
    for key in DOCUMENT_KEYS
    for column in (READ_SIDE_KEYS[key] if key in READ_SIDE_KEYS else FIELDS_BY_NAME[key].columns)
)


def _renderer(key: str):
    """How the document renders `key` from a read row (a dict by attname); one function per
    key, chosen once, since lists render 50 documents a page."""
    if key == "findings":
        return lambda row: [{name: finding.get(name) for name in FINDING_KEYS} for finding in row["findings"]]
    if key == "decision":
        return lambda row: {"by": row["decided_by"], "reason": row["decision_reason"]} if row["decided_by"] else None
    if key in ("appeal", "change"):
        return operator.methodcaller("get", key)
    field = FIELDS_BY_NAME[key]
    if field.kind is Kind.ID:
        return lambda row: str(row[key])
    if field.kind is Kind.DATETIME:
        return lambda row: _datetime(row[key])
    if field.kind is Kind.PRICE:
        amount, currency = field.columns
        return lambda row: {"amount": str(row[amount]), "currency": row[currency]} if row[amount] is not None else None
    return operator.itemgetter(key)


_RENDERERS = tuple((key, _renderer(key)) for key in DOCUMENT_KEYS)


class StoredDocument(bytes):
    """An answer's JSON, rendered already (a read row's stored document, or a list page put
    together from them): DocumentRenderer sends it as it is."""


class DocumentRenderer(JSONRenderer):
    """DRF's JSON renderer, which sends a StoredDocument unchanged. Only when the client asks
    for indented JSON (`Accept: application/json; indent=2`) is it decoded and rendered
    again, as DRF would render the document itself."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, StoredDocument):
            if self.get_indent(accepted_media_type, renderer_context or {}) is None:
                return bytes(data)
            data = json.loads(data)
        return super().render(data, accepted_media_type, renderer_context)


def document_response(request, document: bytes, *, headers: dict | None = None):
    """The answer of a view whose renderer is DocumentRenderer: `document`'s bytes as they
    are, in a plain HttpResponse. DRF's Response around them (its template-response machinery,
    and a render that hands the bytes back unchanged) was a third of the read by id's view.
    Negotiation has run before the view (a 406 there), and DRF adds its own headers (Allow) to
    any response. Indented JSON, when asked for, goes through the renderer as before."""
    renderer = request.accepted_renderer
    if renderer.get_indent(request.accepted_media_type, {}) is not None:
        return Response(StoredDocument(document), headers=headers)
    return HttpResponse(document, content_type=renderer.media_type, headers=headers)


def stored_document(row, *, vendor: str) -> bytes:
    """The read row's API document as the API answers it by id, for the projection to store
    (AdView.document): the bytes DRF's JSON renderer makes of `ad_document(row)` read back
    from the database. The row's JSON columns come back from PostgreSQL's jsonb with their
    keys reordered (jsonb_ordered), so the document is made of them as they will read.
    `row`: an AdView, or a dict of its DOCUMENT_COLUMNS."""
    values = dict(row if isinstance(row, dict) else row.__dict__)
    if vendor == "postgresql":
        for name in _JSON_COLUMNS:
            if name in values:
                values[name] = jsonb_ordered(values[name])
    return JSONRenderer().render(ad_document(values))


# The read row's JSON columns (findings, appeal, any added later): jsonb on PostgreSQL.
_JSON_COLUMNS = tuple(f.attname for f in AdView._meta.concrete_fields if isinstance(f, models.JSONField))


def documents_page(documents: list[bytes], links: dict) -> StoredDocument:
    """A list page, `{"results": [...], "next": …, "next_cursor": …}`, byte for byte as DRF
    renders it, made of the ads' stored documents: only the links are rendered."""
    tail = JSONRenderer().render(links)  # b'{"next":…}': its members follow the results
    return StoredDocument(b'{"results":[' + b",".join(documents) + b"]," + tail[1:])


def jsonb_ordered(value):
    """A JSON value as PostgreSQL's jsonb gives it back: each object's keys shortest first,
    equal lengths by their UTF-8 bytes; a float written with a positive exponent comes back
    as the whole number it is (jsonb keeps numbers as decimals: 1e+16 reads 10000000000000000)."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (len(key.encode()), key.encode()))
        return {key: jsonb_ordered(value[key]) for key in keys}
    if isinstance(value, list):
        return [jsonb_ordered(item) for item in value]
    if isinstance(value, float) and "e+" in repr(value):
        return int(Decimal(repr(value)))
    return value


def _datetime(value: datetime | None) -> str | None:
    """As DRF's DateTimeField renders it: in UTC, ISO 8601 with a "Z"."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class DailyStatsSerializer(serializers.Serializer):
    day = serializers.DateField()
    pending = serializers.IntegerField()
    approved = serializers.IntegerField()
    rejected = serializers.IntegerField()
    needs_review = serializers.IntegerField()
    withdrawn = serializers.IntegerField(help_text="Withdrawn by the retailer: not failed.")
    total = serializers.IntegerField()
