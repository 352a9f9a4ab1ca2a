"""Projections: the only writers of the read tables. Each copies the write side's current
state of some ads into `AdView`, applying a row only if its version is newer than the stored
one, so duplicated or reordered deliveries leave the same state."""

import uuid
from urllib.parse import urlsplit

from django.db import connection, transaction
from django.utils import timezone

from ads_write.models import Ad, Verdict
from notifications.services import webhook_deliveries_create

from . import stats
from .models import AdView
from .pending import pending_settle

_COLUMNS = [f for f in AdView._meta.concrete_fields]
_UPDATE_COLUMNS = [f for f in _COLUMNS if not f.primary_key]


def _view_row(ad: Ad, verdicts: list[Verdict], now) -> AdView:
    engine = next((v for v in verdicts if v.source == Verdict.Source.ENGINE), None)
    staff = next((v for v in reversed(verdicts) if v.source == Verdict.Source.STAFF), None)
    findings = [f.as_dict() for f in engine.findings.all()] if engine else []
    return AdView(
        id=ad.id,
        retailer_id=ad.retailer_id,
        retailer_name=ad.retailer.name,
        external_ref=ad.external_ref,
        status=ad.status,
        headline=ad.headline,
        description=ad.description,
        landing_url=ad.landing_url,
        landing_domain=(urlsplit(ad.landing_url).hostname or "")[:255],
        display_url=ad.display_url,
        country=ad.country,
        language=ad.language,
        category=ad.category,
        price_amount=ad.price_amount,
        price_currency=ad.price_currency,
        target_min_age=ad.target_min_age,
        starts_at=ad.starts_at,
        ends_at=ad.ends_at,
        findings=findings,
        finding_codes=(" " + " ".join(sorted({f["code"] for f in findings})) + " ") if findings else "",
        ruleset_version=ad.ruleset_version,
        submitted_at=ad.submitted_at,
        reviewed_at=ad.reviewed_at,
        decided_at=ad.decided_at,
        decided_by=staff.reviewer if staff else "",
        decision_reason=staff.reason if staff else "",
        version=ad.version,
        projected_at=now,
    )


def _upsert_newer(rows: list[AdView]) -> dict[uuid.UUID, str]:
    """INSERT … ON CONFLICT DO UPDATE … WHERE stored.version < new.version (PostgreSQL and
    SQLite share the syntax). Returns {id: previous status} of the rows it applied ('' for a
    new row): RETURNING leaves out the rows the version guard skipped, and the previous
    status is read from the row the upsert itself locked, so concurrent projections of one
    ad each see the state the other left."""
    if not rows:
        return {}
    table = connection.ops.quote_name(AdView._meta.db_table)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in _COLUMNS)
    placeholders = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    updates = ", ".join(
        # SET expressions see the stored row: its status becomes the previous one.
        f"{quote(f.column)} = {table}.{quote('status')}" if f.attname == "previous_status"
        else f"{quote(f.column)} = EXCLUDED.{quote(f.column)}"
        for f in _UPDATE_COLUMNS
    )
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholders] * len(rows))} "
        f"ON CONFLICT ({quote('id')}) DO UPDATE SET {updates} "
        f"WHERE {table}.{quote('version')} < EXCLUDED.{quote('version')} "
        f"RETURNING {quote('id')}, {quote('previous_status')}"
    )
    params = [f.get_db_prep_save(getattr(row, f.attname), connection) for row in rows for f in _COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {uuid.UUID(str(ad_id)): previous for ad_id, previous in cursor.fetchall()}


def ads_project(*, ad_ids: list) -> int:
    """Project the given ads into the read table. Returns how many ads it read."""
    ids = [uuid.UUID(str(i)) for i in ad_ids]
    ads = list(Ad.objects.filter(id__in=ids).select_related("retailer"))
    if not ads:
        return 0
    verdicts: dict = {}
    for verdict in Verdict.objects.filter(ad_id__in=[a.id for a in ads]).prefetch_related("findings").order_by("version"):
        verdicts.setdefault(verdict.ad_id, []).append(verdict)
    now = timezone.now()
    rows = [_view_row(ad, verdicts.get(ad.id, []), now) for ad in sorted(ads, key=lambda a: a.id)]
    with transaction.atomic():
        previous = _upsert_newer(rows)
        applied_rows = [row for row in rows if row.id in previous]
        # Webhooks for the states this call made visible, in the same transaction: a state
        # applied is announced exactly once (the delivery rows are unique per ad version).
        webhook_deliveries_create(ads=applied_rows)
        stats.daily_stats_apply(rows=applied_rows, previous=previous)
    stats.consistency_lag_observe(rows=applied_rows, previous=previous)
    pending_settle(ad_ids=[row.id for row in applied_rows])
    return len(rows)
