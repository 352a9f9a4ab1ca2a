"""Projections: the only writers of the read tables. Each copies the write side's current
state of some ads into `AdView`, applying a row only if its version is newer than the stored
one, so duplicated or reordered deliveries leave the same state.

A rebuild (ads_read/rebuild.py) projects with `reapply=True`: a row is applied also at the
version already stored (the projection code or a read field may have changed since), still
never over a newer one, and only the rows whose status it changes are announced (webhooks)
and counted; a same-version row changes no count and sends nothing."""

import uuid
from urllib.parse import urlsplit

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from adplatform.kernel.bulk import COPY_MIN_ROWS, rows_stage
from ads_write.fields import READ_COLUMNS
from ads_write.models import Ad, AdChange, Appeal, Finding, Verdict, finding_document
from notifications.services.webhook_deliveries import webhook_deliveries_create

from . import stats
from .freshness import told_versions_record
from .models import AdView
from .pending import pending_settle
from .serializers import appeal_document, change_document, stored_document

_COLUMNS = list(AdView._meta.concrete_fields)
_UPDATE_COLUMNS = [f for f in _COLUMNS if not f.primary_key]


def _view_row(ad: dict, verdicts: list[dict], findings: dict, now, appeal=None, change=None) -> AdView:
    # The latest engine verdict: a revalidation (ads_write/services/revalidation.py) adds one.
    engine = next((v for v in reversed(verdicts) if v["source"] == Verdict.Source.ENGINE), None)
    # A staff decision shows while it is the ad's verdict: a newer engine verdict (its content
    # changed, or a revalidation) judged the ad anew, and no one decided that one.
    staff = verdicts[-1] if verdicts and verdicts[-1]["source"] == Verdict.Source.STAFF else None
    found = findings.get(engine["id"], []) if engine else []
    row = AdView(
        **{name: ad[name] for name in READ_COLUMNS},  # what the read row copies from the ad as it is
        retailer_name=ad["retailer__name"],
        landing_domain=(urlsplit(ad["landing_url"]).hostname or "")[:255],
        findings=found,
        finding_codes=(" " + " ".join(sorted({f["code"] for f in found})) + " ") if found else "",
        decided_by=staff["reviewer"] if staff else "",
        decision_reason=staff["reason"] if staff else "",
        appeal=appeal_document(appeal) if appeal is not None else None,
        change=change_document(change) if change is not None else None,
        # Only the version the retailer's command made is announced as that command (webhooks).
        action=ad["action"] if ad["action_version"] == ad["version"] else "",
        projected_at=now,
    )
    # The answer itself, rendered once here rather than on every read (AdView.document).
    row.document = stored_document(row, vendor=connection.vendor)
    return row


def _upsert_newer(rows: list[AdView], *, reapply: bool = False) -> dict[uuid.UUID, str]:
    """INSERT … ON CONFLICT DO UPDATE … WHERE stored.version < new.version (PostgreSQL and
    SQLite share the syntax). Returns {id: previous status} of the rows it applied ('' for a
    new row): RETURNING leaves out the rows the version guard skipped, and the previous
    status is read from the row the upsert itself locked, so concurrent projections of one
    ad each see the state the other left."""
    if not rows:
        return {}
    # The staged rows' table lives until commit: a transaction, if the caller has none.
    with transaction.atomic(savepoint=False):
        return _upsert(rows, reapply=reapply)


def _upsert(rows: list[AdView], *, reapply: bool = False) -> dict[uuid.UUID, str]:
    table = connection.ops.quote_name(AdView._meta.db_table)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in _COLUMNS)
    if connection.vendor == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        # Many rows go in by COPY (adplatform/kernel/bulk.py), in id order: concurrent
        # projections lock the rows they share in the same order. A few, as a VALUES list.
        staged = rows_stage(
            model=AdView,
            columns=[f.attname for f in _COLUMNS],
            rows=[tuple(getattr(row, f.attname) for f in _COLUMNS) for row in rows],
        )
        source, params = f"SELECT {columns} FROM {staged} ORDER BY {quote('id')}", []
    else:
        placeholders = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
        source = f"VALUES {', '.join([placeholders] * len(rows))}"
        params = [f.get_db_prep_save(getattr(row, f.attname), connection) for row in rows for f in _COLUMNS]
    updates = ", ".join(
        # SET expressions see the stored row: its status becomes the previous one.
        f"{quote(f.column)} = {table}.{quote('status')}"
        if f.attname == "previous_status"
        else f"{quote(f.column)} = EXCLUDED.{quote(f.column)}"
        for f in _UPDATE_COLUMNS
    )
    sql = (
        f"INSERT INTO {table} ({columns}) {source} "
        f"ON CONFLICT ({quote('id')}) DO UPDATE SET {updates} "
        f"WHERE {table}.{quote('version')} {'<=' if reapply else '<'} EXCLUDED.{quote('version')} "
        f"RETURNING {quote('id')}, {quote('previous_status')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {uuid.UUID(str(ad_id)): previous for ad_id, previous in cursor.fetchall()}


def ads_project(*, ad_ids: list, reapply: bool = False) -> int:
    """Project the given ads into the read table (`reapply`: at their stored version too, for
    a rebuild; module docstring). Returns how many ads it read."""
    ids = [uuid.UUID(str(i)) for i in ad_ids]
    # Plain values, not model instances: a batch is hundreds of ads.
    ads = list(_ads_read(ids))
    if not ads:
        return 0
    verdicts: dict = {}
    for verdict in _verdicts_of(ads):
        verdicts.setdefault(verdict["ad_id"], []).append(verdict)
    engine = [v for vs in verdicts.values() for v in vs if v["source"] == Verdict.Source.ENGINE]
    findings: dict = {}
    for finding in _findings_of(engine).order_by("id").values("verdict_id", *Finding.DOCUMENT_FIELDS):
        findings.setdefault(finding.pop("verdict_id"), []).append(finding_document(**finding))
    appeals = {}  # each ad's latest appeal (few ads have any)
    for appeal in Appeal.objects.filter(ad__id__any=ids).order_by("verdict_version"):
        appeals[appeal.ad_id] = appeal
    # Each ad's change waiting for judgement (few ads have one).
    changes = {c.ad_id: c for c in AdChange.objects.filter(ad__id__any=ids, status=AdChange.Status.PENDING)}
    now = timezone.now()
    rows = [
        _view_row(ad, verdicts.get(ad["id"], []), findings, now, appeals.get(ad["id"]), changes.get(ad["id"]))
        for ad in sorted(ads, key=lambda a: a["id"])
    ]
    _rows_apply(rows, reapply=reapply)
    return len(rows)


def ads_project_judged(*, judged: list) -> int:
    """Project ads that the intake consumer has just stored with their first verdict, from
    what it holds ((Ad as stored, with its retailer; the engine's Evaluation) each) rather
    than reading them back: the same rows `ads_project` would read (compared byte for byte in
    tests/ads_read/test_projection_judged.py). An ad this new has no appeal, change or staff
    decision, which can only follow a stored verdict. Returns how many ads it projected."""
    if not judged:
        return 0
    now = timezone.now()
    rows = []
    for ad, verdict in sorted(judged, key=lambda pair: pair[0].id):
        values = {name: getattr(ad, name) for name in _AD_VALUES if name != "retailer__name"}
        values["retailer__name"] = ad.retailer.name  # the consumer's ads carry their retailer
        # The verdict as the read of the stored one gives it (the key only pairs it with its findings).
        engine = {"id": ad.id, "source": Verdict.Source.ENGINE, "reviewer": "", "reason": ""}
        found = [
            finding_document(
                code=f.code,
                category=f.category,
                severity=f.severity,
                message=f.message,
                field=f.field,
                evidence=f.evidence,
            )
            for f in verdict.findings
        ]
        rows.append(_view_row(values, [engine], {ad.id: found}, now))
    _rows_apply(rows)
    return len(rows)


def _rows_apply(rows: list[AdView], *, reapply: bool = False) -> None:
    """Write the rows newer than the stored ones, and what follows from each row applied:
    its webhooks and daily counts (in the same transaction), its lag, pending marker and
    told version."""
    with transaction.atomic():
        previous = _upsert_newer(rows, reapply=reapply)
        applied_rows = [row for row in rows if row.id in previous]
        if reapply:
            # The upsert sets previous_status from the stored row: a re-applied row that moved
            # nothing has its own status there, and is neither announced nor counted.
            applied_rows = [row for row in applied_rows if previous[row.id] != row.status]
        # Webhooks for the states this call made visible, in the same transaction: a state
        # applied is announced exactly once (the delivery rows are unique per ad version).
        webhook_deliveries_create(ads=applied_rows)
        stats.daily_stats_apply(rows=applied_rows, previous=previous)
    if not reapply:  # a rebuild's rows reached their state long ago: no lag to observe
        stats.consistency_lag_observe(rows=applied_rows, previous=previous)
    pending_settle(ad_ids=[row.id for row in applied_rows])
    told_versions_record(versions={row.id: row.version for row in applied_rows})


# On PostgreSQL the ads are read with the ids of their verdicts, the verdicts by those ids
# with the ids of their findings, and the findings by theirs: each a lookup by an index per
# ad or verdict, or a list of primary keys. Read by lists of ad or verdict ids instead, the
# verdict and finding tables were scanned whole whenever PostgreSQL had no statistics on them
# (a table filled faster than autoanalyze runs, or autovacuum off: it then guesses a fixed
# share of the table per listed id), at a cost that grew with the tables. A list of keys it
# reads by the unique index whatever it knows. (SQLite uses the indexes for the lists.)
_AD_VALUES = (*READ_COLUMNS, "retailer__name", "action", "action_version")
_VERDICT_VALUES = ("id", "ad_id", "source", "reviewer", "reason")


def _ads_read(ids: list):
    ads = Ad.objects.filter(id__any=ids) if ids else Ad.objects.none()
    if connection.vendor != "postgresql":
        return ads.values(*_AD_VALUES)
    verdict_ids = ArraySubquery(Verdict.objects.filter(ad_id=OuterRef("id")).values("id"))
    return ads.annotate(verdict_ids=verdict_ids).values(*_AD_VALUES, "verdict_ids")


def _verdicts_of(ads: list[dict]):
    if connection.vendor != "postgresql":
        return Verdict.objects.filter(ad_id__in=[a["id"] for a in ads]).order_by("version").values(*_VERDICT_VALUES)
    ids = [verdict_id for ad in ads for verdict_id in ad["verdict_ids"]]
    if not ids:
        return []
    finding_ids = ArraySubquery(Finding.objects.filter(verdict_id=OuterRef("id")).values("id"))
    verdicts = Verdict.objects.filter(id__any=ids).annotate(finding_ids=finding_ids).order_by("version")
    return verdicts.values(*_VERDICT_VALUES, "finding_ids")


def _findings_of(verdicts: list[dict]):
    if connection.vendor != "postgresql":
        return Finding.objects.filter(verdict_id__in=[v["id"] for v in verdicts])
    ids = [finding_id for verdict in verdicts for finding_id in verdict["finding_ids"]]
    return Finding.objects.filter(id__any=ids) if ids else Finding.objects.none()


def ad_views_orphaned_delete(*, retailer_id=None, since=None) -> int:
    """Delete the read rows (of a retailer's; of ads submitted since a moment) whose ad the
    write side does not have: after a restore to an earlier point, or a read table restored
    apart from the write side, they would show ads that do not exist. Returns how many."""
    rows = AdView.objects.filter(~Exists(Ad.objects.filter(id=OuterRef("id"))))
    if retailer_id is not None:
        rows = rows.filter(retailer_id=retailer_id)
    if since is not None:
        rows = rows.filter(submitted_at__gte=since)
    deleted, _ = rows.delete()
    return deleted
