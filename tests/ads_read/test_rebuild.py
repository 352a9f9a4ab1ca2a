"""Rebuilding the read table (`manage.py rebuild_read_model`): through the projection, in
batches, resumable, audited, and never over a newer version while intake and staff go on."""

import threading
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from ads_read.models import AdView, RetailerDailyStats
from ads_read.projections import ads_project
from ads_read.rebuild import rebuild_checkpoint_key
from ads_write.models import Ad, AdStatus
from ads_write.services.decisions import ad_decide
from audit.models import AuditEntry
from notifications.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import wait_for
from tests.factories import RetailerFactory, held_ad, submit_ad
from tests.pipeline.test_batch_pipeline import metric_total

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_checkpoint():
    # (Scoped runs here always finish, which drops their checkpoints.)
    cache.delete(rebuild_checkpoint_key())
    yield
    cache.delete(rebuild_checkpoint_key())


def rebuild(*args) -> str:
    out = StringIO()
    call_command("rebuild_read_model", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def read_rows() -> dict:
    return {row.id: row for row in AdView.objects.all()}


def matches_write_side() -> list:
    """Read rows that differ from their ad's status or version, or are missing."""
    views = read_rows()
    return [
        ad.id
        for ad in Ad.objects.all()
        if ad.id not in views or (views[ad.id].status, views[ad.id].version) != (ad.status, ad.version)
    ]


def test_a_rebuild_rewrites_drifted_and_missing_rows_through_the_projection(retailer):
    WebhookEndpoint.objects.create(
        retailer=retailer, url="https://hooks.example/ads", events=["ad.approved", "ad.rejected"], secret="s"
    )
    ads = [submit_ad(retailer, external_ref=f"r{i}") for i in range(5)]
    deliveries = WebhookDelivery.objects.count()
    stats = sorted(RetailerDailyStats.objects.values_list("day", "status", "count"))
    # Drift: a read row edited behind the projection's back (same version), one lost.
    AdView.objects.filter(id=ads[0].id).update(headline="drifted", findings=[])
    AdView.objects.filter(id=ads[1].id).delete()
    lags = metric_total("adplatform_consistency_lag_seconds_count")

    out = rebuild()

    assert "re-projected 5 of 5 ads" in out
    views = read_rows()
    assert views[ads[0].id].headline == ads[0].headline
    assert ads[1].id in views and matches_write_side() == []
    # The same-version rows moved no count and announced nothing again; the lost row's
    # state was announced already (the delivery per ad version exists), so none is added.
    assert WebhookDelivery.objects.count() == deliveries
    assert sorted(RetailerDailyStats.objects.values_list("day", "status", "count")) == stats
    # The lost row reached its state long ago: that is no consistency lag.
    assert metric_total("adplatform_consistency_lag_seconds_count") == lags
    started, finished = AuditEntry.objects.filter(action__startswith="read_model.rebuild").order_by("sequence")
    assert (started.action, started.actor, started.data["ads"]) == ("read_model.rebuild_started", "system:rebuild", 5)
    assert (finished.action, finished.data["projected"], finished.data["batches"]) == (
        "read_model.rebuild_finished",
        5,
        1,
    )


def test_a_stopped_rebuild_resumes_after_its_last_batch(retailer):
    ads = sorted(submit_ad(retailer, external_ref=f"s{i}").id for i in range(7))
    AdView.objects.all().delete()

    out = rebuild("--batch-size", "2", "--max-batches", "2")

    assert "re-projected 4 of 7 ads in 2 batches" in out and "stopped" in out
    assert sorted(read_rows()) == ads[:4]
    assert cache.get(rebuild_checkpoint_key()) == str(ads[3])

    # The next run goes on after the checkpoint (the rows already done are not read again).
    AdView.objects.filter(id=ads[0]).update(headline="not touched again")
    out = rebuild("--batch-size", "2")

    assert "re-projected 3 of 7 ads in 2 batches (resumed after" in out
    assert sorted(read_rows()) == ads and matches_write_side() == []
    assert AdView.objects.get(id=ads[0]).headline == "not touched again"
    assert cache.get(rebuild_checkpoint_key()) is None
    actions = list(AuditEntry.objects.filter(action__startswith="read_model.rebuild").values_list("action", flat=True))
    assert actions == [
        "read_model.rebuild_started",
        "read_model.rebuild_stopped",
        "read_model.rebuild_started",
        "read_model.rebuild_finished",
    ]

    # --restart forgets a checkpoint and does them all.
    rebuild("--batch-size", "2", "--max-batches", "1")
    assert "re-projected 7 of 7 ads in 4 batches" in rebuild("--batch-size", "2", "--restart")
    assert AdView.objects.get(id=ads[0]).headline != "not touched again"


def test_a_rebuild_scoped_to_a_retailer_and_a_day_leaves_the_rest_alone(retailer):
    other = RetailerFactory(name="Other Retailer")
    old = submit_ad(retailer, external_ref="old")
    Ad.objects.filter(id=old.id).update(submitted_at=timezone.now() - timedelta(days=3))
    recent = submit_ad(retailer, external_ref="recent")
    theirs = submit_ad(other, external_ref="theirs")
    AdView.objects.update(headline="drifted")
    since = (timezone.now() - timedelta(days=1)).date().isoformat()

    assert "re-projected 1 of 1 ads" in rebuild("--retailer", retailer.name, "--since", since)

    assert {row.id: row.headline for row in AdView.objects.all()} == {
        old.id: "drifted",
        recent.id: recent.headline,
        theirs.id: "drifted",
    }
    rebuild("--retailer", str(other.id))
    assert AdView.objects.get(id=theirs.id).headline == theirs.headline
    with pytest.raises(CommandError, match="no retailer named"):
        rebuild("--retailer", "Nobody")


def orphan_of(row: AdView) -> uuid.UUID:
    """A copy of a read row under an id the write side does not have (as after a restore of
    the database to an earlier point, or of the read table apart from it)."""
    row.pk = uuid.uuid4()
    row.save(force_insert=True)
    return row.pk


def test_a_finished_rebuild_deletes_read_rows_whose_ad_does_not_exist(retailer):
    other = RetailerFactory(name="Other Retailer")
    kept = [submit_ad(retailer, external_ref="kept"), submit_ad(other, external_ref="theirs")]
    orphans = {row.retailer_id: orphan_of(row) for row in AdView.objects.all()}
    stats_before = sorted(RetailerDailyStats.objects.values_list("retailer_id", "status", "count"))

    # A stopped run deletes nothing: only a whole pass knows which rows it did not write.
    assert "deleted" not in rebuild("--batch-size", "1", "--max-batches", "1", "--retailer", retailer.name)
    assert AdView.objects.filter(id__in=orphans.values()).count() == 2
    # A run scoped to a retailer deletes only that retailer's.
    out = rebuild("--retailer", retailer.name, "--restart")
    assert "deleted 1 read rows of ads the write side does not have" in out
    assert set(read_rows()) == {kept[0].id, kept[1].id, orphans[other.id]}
    out = rebuild()
    assert "deleted 1 read rows" in out
    assert set(read_rows()) == {ad.id for ad in kept} and matches_write_side() == []
    finished = AuditEntry.objects.filter(action="read_model.rebuild_finished").order_by("sequence").last()
    assert finished.data["orphaned_rows_deleted"] == 1
    # The daily counts are the rows there are (the orphans were never counted: copied here).
    assert sorted(RetailerDailyStats.objects.values_list("retailer_id", "status", "count")) == stats_before


def test_a_rebuild_never_puts_back_an_older_version_while_staff_decide(retailer):
    # The race, made to happen: the rebuild reads a held ad (version 2) and is about to write
    # its row, which the decision's projection holds locked; staff decide (version 3), that
    # projection writes version 3 and commits; then the rebuild's write goes through, and the
    # version guard must refuse it.
    ad = held_ad(retailer, external_ref="raced")
    ads_project(ad_ids=[ad.id])
    holding, decided = threading.Event(), threading.Event()

    def decision_projection():
        try:
            with transaction.atomic():
                list(AdView.objects.select_for_update().filter(id=ad.id))
                holding.set()
                decided.wait(60)
                ads_project(ad_ids=[ad.id])
        finally:
            connection.close()

    def rebuilding():
        try:
            rebuild()
        finally:
            connection.close()

    projection = threading.Thread(target=decision_projection)
    projection.start()
    assert holding.wait(30)
    rebuilder = threading.Thread(target=rebuilding)
    rebuilder.start()
    wait_for(lambda: waiting_on_a_lock() > 0, timeout=30, what="the rebuild to wait for the row the projection holds")
    ad_decide(ad_id=ad.id, status=AdStatus.APPROVED, reviewer="kim", reason="Checked.")
    decided.set()
    projection.join(30)
    rebuilder.join(30)

    view = AdView.objects.get(id=ad.id)
    assert (view.status, view.version, view.decided_by) == (AdStatus.APPROVED, 3, "kim")
    assert AuditEntry.objects.filter(action="read_model.rebuild_finished").count() == 1


def waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]
