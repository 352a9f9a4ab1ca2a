import uuid

import factory
from django.db import connection, transaction
from django.utils import timezone

from adplatform.kernel.auth import Caller
from adplatform.kernel.ids import new_id
from adplatform.kernel.models import Retailer
from ads_read.models import AdView
from ads_read.serializers import stored_document
from ads_write.models import Ad, AdStatus
from ads_write.services.events import submitted_event
from ads_write.services.intake import ads_submit
from ads_write.services.submissions import submissions_store
from ads_write.services.verdicts import ads_record_verdicts
from ads_write.validation import engine
from ads_write.validation.basic import validate_basic
from audit.services import AuditRecord, audit_record_many


class RetailerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Retailer
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Retailer {n}")
    email = factory.LazyAttribute(lambda r: f"reports@{r.name.lower().replace(' ', '-')}.example")
    report_contacts = factory.LazyAttribute(lambda r: [r.email])


def ad_payload(**overrides) -> dict:
    """A valid ad as a client would POST it; pass field=None to drop a field."""
    payload = {
        "external_ref": "SKU-1",
        "headline": "Trail running shoes",
        "description": "Grippy soles and waterproof uppers for winter runs.",
        "landing_url": "https://www.nimbus-store.example/shoes/trail",
        "display_url": "nimbus-store.example/shoes",
        "country": "US",
        "language": "en",
        "category": "sports",
        "price": {"amount": "89.90", "currency": "USD"},
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


class AdViewFactory(factory.django.DjangoModelFactory):
    """A read-table row, for tests of the query side (reports) that need exact states and
    times; the write side and projection are exercised by the pipeline tests. It stores its
    document as the projection does, rendered from the row as read back (`stored=False`: a
    row projected before documents were stored, whose document is null)."""

    class Meta:
        model = AdView
        skip_postgeneration_save = True

    id = factory.LazyFunction(new_id)
    retailer_id = factory.LazyAttribute(lambda v: RetailerFactory().id)
    retailer_name = "Nimbus"
    external_ref = factory.Sequence(lambda n: f"SKU-{n}")
    status = "rejected"
    headline = "Trail running shoes"
    description = "Grippy soles and waterproof uppers for winter runs."
    landing_url = "https://www.nimbus-store.example/shoes/trail"
    landing_domain = "www.nimbus-store.example"
    country = "US"
    language = "en"
    category = "sports"
    findings = factory.LazyFunction(
        lambda: [
            {
                "code": "COMPLIANCE.PROHIBITED_CATEGORY",
                "category": "compliance",
                "severity": "reject",
                "message": "Category is prohibited.",
                "field": "category",
                "evidence": {},
            }
        ]
    )
    submitted_at = factory.LazyFunction(timezone.now)
    reviewed_at = factory.LazyAttribute(lambda v: v.submitted_at)
    version = 2
    projected_at = factory.LazyAttribute(lambda v: v.submitted_at)

    @factory.post_generation
    def stored(row, create, extracted, **kwargs):
        if not create or extracted is False:
            return
        stored = AdView.objects.get(pk=row.pk)  # database types, as the projection has them
        row.document = stored_document(stored, vendor=connection.vendor)
        AdView.objects.filter(pk=row.pk).update(document=row.document)


def mixed_batch(size: int) -> tuple[list, set]:
    """`size` ads, every third one invalid in some way; returns them and the invalid indexes."""
    breakers = [
        {"headline": None},
        {"landing_url": "http://insecure.example"},
        {"country": "usa"},
        {"price": {"amount": "-1", "currency": "USD"}},
        {"unknown": "x"},
    ]
    ads, invalid = [], set()
    for index in range(size):
        overrides = {"external_ref": f"item-{index}"}
        if index % 3 == 1:
            overrides.update(breakers[index % len(breakers)])
            invalid.add(index)
        ads.append(ad_payload(**overrides))
    return ads, invalid


def intake_event(retailer, **overrides):
    """The ad.submitted event the API would make for ad_payload(**overrides)."""
    actor = Caller(retailer=retailer, key_prefix="factory").actor
    ad = validate_basic(ad_payload(**overrides)).ad
    return submitted_event(ad_id=new_id(), retailer_id=retailer.id, ad=ad, actor=actor, at=timezone.now().isoformat())


def submit_ad(retailer, **overrides):
    """An ad submitted in the sync intake mode: stored, judged, projected and audited."""
    result = validate_basic(ad_payload(**overrides))
    assert result.ok, result.errors
    accepted = ads_submit(caller=Caller(retailer=retailer, key_prefix="factory"), ads=[result.ad], mode="sync")
    return Ad.objects.get(id=accepted[0].id)


def held_ad(retailer, code="POLICY.SUPERLATIVE_CLAIM", *, evidence=None, extra_findings=(), **overrides):
    """An ad that detailed validation held for review: stored as the consumer stores it,
    then given a review verdict through the service that records the engine's verdicts
    (whatever the rules engine makes of the ad's text today). extra_findings: more
    engine.RuleFinding to hold it with."""
    event = intake_event(retailer, **overrides)
    with transaction.atomic():
        submissions_store(events=[event])
    finding = engine.RuleFinding(
        code=code,
        category=code.split(".")[0].lower(),
        severity="review",
        message="Held for a person to look at.",
        field="headline",
        evidence=evidence or {},
    )
    findings = (finding, *extra_findings)
    verdict = engine.Evaluation(status=AdStatus.NEEDS_REVIEW, findings=findings, ruleset_version="factory")
    ads_record_verdicts(verdicts={uuid.UUID(event.ad_id): verdict})
    return Ad.objects.get(id=event.ad_id)


def audit_chain(count, **fields) -> list:
    """count entries appended to the audit chain in one transaction."""
    with transaction.atomic():
        return audit_record_many(
            records=[
                AuditRecord(event_id=uuid.uuid4(), action="test.done", actor="system:test", **fields)
                for _ in range(count)
            ]
        )


def intake_events(retailer_id, *payloads, actor: str = "system:test") -> list[dict]:
    """ad.submitted events (as the request path makes them, as dicts) for valid ad payloads."""
    now = timezone.now().isoformat()
    return [
        submitted_event(
            ad_id=new_id(), retailer_id=retailer_id, ad=validate_basic(payload).ad, actor=actor, at=now
        ).to_dict()
        for payload in payloads
    ]
