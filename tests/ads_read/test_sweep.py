"""The read-model sweep: ads whose projection message was lost are projected again."""

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY

from adplatform.celery import app
from adplatform.kernel.auth import Caller
from adplatform.kernel.events import PROJECT_ADS_TASK, Event
from ads_read import sweep
from ads_read.models import AdView
from ads_read.projections import ads_project
from ads_read.sweep import ads_behind_read_model, read_model_reconcile
from ads_read.tasks import maintenance_read_model_reconcile_task, project_ads_task
from ads_write.models import Ad
from ads_write.services.appeals import appeal_submit
from ads_write.services.commands import ads_command
from ads_write.services.decisions import ad_decide
from ads_write.services.submissions import submissions_process, submissions_store
from audit.models import AuditEntry
from tests.conftest import plans_of, queued_tasks
from tests.factories import ad_payload, held_ad, intake_events

pytestmark = pytest.mark.django_db(transaction=True)

SWEEP = {"lookback_seconds": 3600, "grace_seconds": 60}
RECENT = {"lookback_seconds": 3600, "grace_seconds": 0}  # what changed just now too


def reconciled_total() -> float:
    return REGISTRY.get_sample_value("adplatform_read_model_reconciled_ads_total") or 0.0


def empty_projections_queue():
    redis.Redis.from_url(settings.REDIS_URL).delete("projections")


def judged(retailer, ref: str) -> Ad:
    """An ad stored and judged by the consumer, whose projection message never came."""
    (event,) = intake_events(retailer.id, ad_payload(external_ref=ref))
    submissions_process(events=[Event.from_dict(event)])
    return Ad.objects.get(id=event["ad_id"])


def projected_then_judged(retailer, ref: str) -> Ad:
    """An ad whose pending state reached the read table, but not its verdict."""
    (event,) = intake_events(retailer.id, ad_payload(external_ref=ref))
    with transaction.atomic():
        submissions_store(events=[Event.from_dict(event)])
    ads_project(ad_ids=[event["ad_id"]])
    submissions_process(events=[Event.from_dict(event)])
    return Ad.objects.get(id=event["ad_id"])


def decided_unprojected(retailer, ref: str) -> Ad:
    """A held ad on the read table, then decided by staff; the decision's projection is lost."""
    ad = held_ad(retailer, external_ref=ref)
    ads_project(ad_ids=[ad.id])
    ad_decide(ad_id=ad.id, status="approved", reviewer="carol", reason="Checked the claim.")
    return Ad.objects.get(id=ad.id)


def at(ad: Ad, **minutes_ago) -> Ad:
    """Move the ad's times (submitted_at=30 → submitted 30 minutes ago)."""
    now = timezone.now()
    Ad.objects.filter(id=ad.id).update(**{column: now - timedelta(minutes=m) for column, m in minutes_ago.items()})
    return Ad.objects.get(id=ad.id)


@pytest.fixture
def behind(retailer):
    """Three ads behind on the read table, found by each of the three time columns in turn
    (oldest change first), and ads the sweep must leave alone."""
    ads = {  # made newest change first, so that neither id nor table order is the expected order
        "decided": at(decided_unprojected(retailer, "decided"), submitted_at=180, reviewed_at=170, decided_at=10),
        "older": at(projected_then_judged(retailer, "older"), submitted_at=120, reviewed_at=20),
        "missing": at(judged(retailer, "missing"), submitted_at=40, reviewed_at=30),
    }
    current = judged(retailer, "current")
    ads_project(ad_ids=[current.id])
    at(current, submitted_at=30, reviewed_at=30)
    judged(retailer, "in-flight")  # judged just now, inside the grace: its projection may be on its way
    at(judged(retailer, "out-of-window"), submitted_at=120, reviewed_at=119)
    (unjudged,) = intake_events(retailer.id, ad_payload(external_ref="not-judged-yet"))
    with transaction.atomic():  # stored, still pending: no read row is due (its marker answers)
        submissions_store(events=[Event.from_dict(unjudged)])
    at(Ad.objects.get(id=unjudged["ad_id"]), submitted_at=30)
    empty_projections_queue()  # what ad_decide published after commit
    return ads


def test_ads_behind_the_read_table_are_projected_again_and_the_rest_left_alone(behind):
    counted = reconciled_total()

    assert read_model_reconcile(**SWEEP, limit=100) == 3

    messages = queued_tasks(settings.REDIS_URL, queue="projections")
    assert [task for task, _args in messages] == [PROJECT_ADS_TASK]
    (payload,) = messages[0][1]
    assert payload == [str(behind[name].id) for name in ("missing", "older", "decided")]  # oldest change first
    assert reconciled_total() == counted + 3
    (entry,) = AuditEntry.objects.filter(action="read_model.reconciled")
    assert entry.actor == "system:reconciler"
    assert entry.data == {**SWEEP, "count": 3, "ad_ids": payload}

    # The real projection task turns the messages into current rows; then nothing is behind.
    project_ads_task.apply(args=[payload]).get()
    views = {view.id: view for view in AdView.objects.filter(id__in=[ad.id for ad in behind.values()])}
    assert {ad.id: (ad.version, ad.status) for ad in behind.values()} == {
        ad_id: (view.version, view.status) for ad_id, view in views.items()
    }
    assert views[behind["decided"].id].version == 3 and views[behind["decided"].id].decided_by == "carol"
    empty_projections_queue()
    assert read_model_reconcile(**SWEEP, limit=100) == 0
    assert queued_tasks(settings.REDIS_URL, queue="projections") == []


def test_the_limit_takes_the_oldest_changes_first(behind):
    assert read_model_reconcile(**SWEEP, limit=2) == 2
    ((_task, (payload,)),) = queued_tasks(settings.REDIS_URL, queue="projections")
    assert payload == [str(behind["missing"].id), str(behind["older"].id)]
    assert AuditEntry.objects.get(action="read_model.reconciled").data["count"] == 2


def test_many_ads_go_out_in_messages_of_a_bounded_size(behind, monkeypatch):
    monkeypatch.setattr(sweep, "PROJECTION_MESSAGE_SIZE", 2)
    assert read_model_reconcile(**SWEEP, limit=100) == 3
    payloads = [args[0] for _task, args in queued_tasks(settings.REDIS_URL, queue="projections")]
    assert [len(payload) for payload in payloads] == [2, 1]


def test_nothing_behind_publishes_nothing_and_audits_nothing(retailer):
    current = judged(retailer, "current")
    ads_project(ad_ids=[current.id])
    at(current, submitted_at=30, reviewed_at=30)
    empty_projections_queue()

    assert read_model_reconcile(**SWEEP, limit=100) == 0
    assert queued_tasks(settings.REDIS_URL, queue="projections") == []
    assert not AuditEntry.objects.filter(action="read_model.reconciled").exists()


def test_beat_runs_the_sweep_on_the_maintenance_queue_with_the_settings(behind, settings):
    entry = app.conf.beat_schedule["read-model-sweep"]
    assert entry["task"] == maintenance_read_model_reconcile_task.name
    assert entry["schedule"] == float(settings.READ_MODEL_SWEEP_INTERVAL)
    assert app.amqp.router.route({}, entry["task"])["queue"].name == "maintenance"
    settings.READ_MODEL_SWEEP_LOOKBACK, settings.READ_MODEL_SWEEP_GRACE = 25 * 60, 15 * 60
    assert maintenance_read_model_reconcile_task.apply().get() == 1  # only the older ad, reviewed 20 minutes ago


@pytest.mark.parametrize("actions", [["pause"], ["pause", "resume"], ["withdraw"]])
def test_a_lost_command_projection_of_an_ad_judged_long_ago_is_found_by_the_commands_time(retailer, actions):
    """The command moves none of the ad's verdict times: the read row still says live (not
    paused, not withdrawn) at the old version until the sweep sees the command's own time."""
    ad = judged(retailer, "judged-long-ago")
    ads_project(ad_ids=[ad.id])
    at(ad, submitted_at=300, reviewed_at=290)  # far outside the lookback
    for action in actions:  # cqrs: its projection goes out through the outbox, then is lost
        ads_command(caller=Caller(retailer=retailer, key_prefix="test"), action=action, ad_ids=[ad.id], mode="cqrs")
    ad = Ad.objects.get(id=ad.id)  # stamped with the command's time, just now
    empty_projections_queue()
    assert AdView.objects.get(id=ad.id).version == 2 < ad.version

    assert read_model_reconcile(**RECENT, limit=100) == 1
    ((_task, (payload,)),) = queued_tasks(settings.REDIS_URL, queue="projections")
    assert payload == [str(ad.id)]
    project_ads_task.apply(args=[payload]).get()
    view = AdView.objects.get(id=ad.id)
    assert (view.version, view.status, view.paused, view.withdrawn_at) == (
        ad.version,
        ad.status,
        ad.paused,
        ad.withdrawn_at,
    )


def test_a_lost_appeal_projection_of_an_ad_rejected_long_ago_is_found_too(retailer):
    ad = judged(retailer, "rejected-long-ago")
    Ad.objects.filter(id=ad.id).update(status="rejected")  # as the engine would have it
    ads_project(ad_ids=[ad.id])
    at(ad, submitted_at=300, reviewed_at=290)
    appeal_submit(caller=Caller(retailer=retailer, key_prefix="test"), ad_id=ad.id, message="Please look again.")
    ad = Ad.objects.get(id=ad.id)  # stamped with the command's time, just now
    empty_projections_queue()  # the appeal's projection, lost

    assert read_model_reconcile(**RECENT, limit=100) == 1
    project_ads_task.apply(args=[[str(ad.id)]]).get()
    view = AdView.objects.get(id=ad.id)
    assert view.version == ad.version and view.appeal["status"] == "open"


def test_the_window_is_read_off_the_indexes_of_the_time_columns(behind):
    """With sequential scans priced out (these few rows would otherwise be scanned), each
    time column's range comes from its own index and the read table is probed by key. Plain
    index scans are priced out too: once autovacuum had analyzed these small tables (a full
    run), reading the whole key index with a filter cost less; what remains is bitmap scans,
    which need an index condition, so the plan shows whether the time indexes serve it."""
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        ads_behind_read_model(changed_from=now - timedelta(hours=1), changed_before=now, limit=10)
    (plan,) = plans_of([q["sql"] for q in queries], "enable_seqscan", "enable_indexscan")
    assert "Seq Scan" not in plan, plan
    for index in ("ad_submitted", "ad_reviewed", "ad_decided", "ad_command", "ads_read_adview_pkey"):
        assert f" {index}" in plan, plan
