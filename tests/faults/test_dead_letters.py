"""Poison messages: each lands in dead letters with its error and payload while the rest of
the queue keeps flowing; replaying a letter once its cause is fixed completes it, and
replaying it again changes nothing."""

import pytest
from django.conf import settings

from adplatform.kernel.ids import new_id
from ads_write.services.events import PROCESS_SUBMISSIONS_TASK
from ads_write.tasks import process_submissions_task
from audit.services import CHAIN_LOCK_KEY
from tests.factories import ad_payload, intake_events

from .conftest import FINAL, check_nothing_lost, payloads, snapshot, wait_all_final, wait_for

pytestmark = pytest.mark.faults


def letters(platform) -> dict[int, dict]:
    rows = platform.query("SELECT id, task_name, args, kwargs, error, replayed_at FROM kernel_deadletter ORDER BY id")
    return {id_: {"task_name": t, "args": a, "kwargs": k, "error": e, "replayed_at": r} for id_, t, a, k, e, r in rows}


def ad_state(platform, ad_id) -> tuple:
    return platform.query(
        "SELECT a.status, v.status, (SELECT count(*) FROM ads_write_verdict WHERE ad_id = a.id), "
        "(SELECT count(*) FROM audit_auditentry WHERE ad_id = a.id) "
        "FROM ads_write_ad a LEFT JOIN ads_read_adview v ON v.id = a.id WHERE a.id = %s",
        [ad_id],
    )


def replayed_and_done(platform, worker, letter_id: int) -> None:
    """Replay a letter and wait until its task, and the projection it publishes, ran."""
    platform.manage("replay_dead_letters", "--id", str(letter_id))
    (task_id,) = platform.query(
        "SELECT data->>'task_id' FROM audit_auditentry WHERE action = 'dead_letter.replayed' ORDER BY sequence DESC LIMIT 1"
    )[0]
    broker = platform.redis.client()
    wait_for(
        lambda: (
            f"[{task_id}] succeeded" in worker.log_path.read_text()
            and broker.llen("intake") == broker.llen("projections") == broker.hlen("unacked") == 0
        ),
        timeout=60,
        what=f"the replayed task {task_id} and its projection",
        details=platform.logs,
    )


def test_poison_messages_become_dead_letters_and_replay_completes_them(platform, retailer_client):
    worker = platform.start_worker(PIPELINE_MAX_RETRIES="2", wait=False)
    web = platform.start_web(mode="direct")
    worker.wait_ready()
    retailer = retailer_client(web)
    (retailer_id,) = platform.query("SELECT id FROM kernel_retailer")[0]
    (good,) = intake_events(retailer_id, ad_payload(external_ref="beside-a-bad-event"))
    ghost_retailer = new_id()
    (ghost,) = intake_events(ghost_retailer, ad_payload(external_ref="late", headline="Late retailer's boots"))
    bad_event = {"schema": 99, "type": "ad.submitted"}

    platform.publish_raw(body=b"{not json", headers={"task": PROCESS_SUBMISSIONS_TASK, "id": "undecodable-1"})
    platform.publish("ads_write.tasks.no_such_task", 1, 2)
    platform.publish(PROCESS_SUBMISSIONS_TASK, [bad_event, good])
    platform.publish(PROCESS_SUBMISSIONS_TASK, [ghost])  # its retailer does not exist: retries run out
    answers = retailer.submit_all(payloads(100, prefix="flow"))

    accepted = {a.json()["id"] for a in answers} | {good["ad_id"]}
    wait_all_final(platform, len(accepted))
    wait_for(lambda: len(letters(platform)) >= 4, timeout=60, what="four dead letters", details=platform.logs)
    found = letters(platform)
    by_kind = {
        "undecodable": [
            i for i, letter in found.items() if letter["task_name"] == "" and letter["kwargs"]["body"] == "{not json"
        ],
        "unknown task": [
            i
            for i, letter in found.items()
            if letter["task_name"] == "ads_write.tasks.no_such_task" and letter["args"] == [1, 2]
        ],
        "bad event": [
            i for i, letter in found.items() if letter["args"] == [[bad_event]] and "InvalidEvent" in letter["error"]
        ],
        "ghost": [
            i for i, letter in found.items() if letter["args"] == [[ghost]] and "IntegrityError" in letter["error"]
        ],
    }
    assert all(len(ids) == 1 for ids in by_kind.values()) and len(found) == 4, (by_kind, found)
    check_nothing_lost(platform, retailer, accepted, scenario="poison messages beside 100 ads", submitted=len(accepted))

    # Letters that cannot be replayed say why.
    skipped = platform.manage(
        "replay_dead_letters", "--id", str(by_kind["undecodable"][0]), "--task", "ads_write.tasks.no_such_task"
    )
    assert "could not be decoded" in skipped.stderr and "unknown task" in skipped.stderr
    assert "Replayed 0" in skipped.stdout

    # Fix the cause (the retailer arrives), replay: the ad completes.
    platform.query(
        "INSERT INTO kernel_retailer (id, name, email, report_contacts, timezone, is_active, created_at) "
        "VALUES (%s, 'Late Retailer', '', '[]', 'UTC', true, now()) RETURNING id",
        [ghost_retailer],
    )
    ghost_letter = by_kind["ghost"][0]
    replayed_and_done(platform, worker, ghost_letter)
    ((status, read_status, verdicts, audit_entries),) = ad_state(platform, ghost["ad_id"])
    assert status in FINAL and (read_status, verdicts, audit_entries) == (status, 1, 2)
    assert letters(platform)[ghost_letter]["replayed_at"] is not None

    # Again: nothing changes, and no new dead letter.
    before = snapshot(platform)
    replayed_and_done(platform, worker, ghost_letter)
    assert snapshot(platform) == before
    assert len(letters(platform)) == 4
    assert platform.query("SELECT count(*) FROM audit_auditentry WHERE action = 'dead_letter.replayed'") == [(2,)]


# The plain consumer (the default) judges one message per task; the batching one a buffer,
# which the limit kills whole: each of its messages is then judged alone by the plain one,
# so that only a message that stalls on its own becomes a letter, and the letter is its.
@pytest.mark.parametrize("batching", ["false", "true"])
def test_a_task_killed_at_its_hard_time_limit_becomes_a_dead_letter(platform, retailer_client, batching):
    worker = platform.start_worker(CELERY_TASK_TIME_LIMIT="3", INTAKE_BATCHING=batching, wait=False)
    web = platform.start_web(mode="direct", INTAKE_BATCHING=batching)
    worker.wait_ready()
    retailer = retailer_client(web)

    # Every consumer appends to an audit chain under its lock: holding them all stalls them.
    with platform.postgres.connect(platform.db) as blocker:
        blocker.execute(
            "SELECT pg_advisory_lock(%s, chain) FROM generate_series(0, %s - 1) chain",
            [CHAIN_LOCK_KEY, settings.AUDIT_CHAINS],
        )
        answer = retailer.submit(ad_payload(external_ref="stalled"))
        assert answer.status_code == 202
        found = wait_for(lambda: letters(platform), timeout=60, what="a dead letter", details=platform.logs)
    ((letter_id, letter),) = found.items()
    assert letter["task_name"] == process_submissions_task.name and "TimeLimitExceeded" in letter["error"]
    assert letter["args"][0][0]["ad_id"] == answer.json()["id"]

    replayed_and_done(platform, worker, letter_id)
    wait_all_final(platform, 1)
    consumer = "batching" if batching == "true" else "plain"
    check_nothing_lost(
        platform,
        retailer,
        {answer.json()["id"]},
        scenario=f"task killed at its hard time limit, {consumer} consumer",
        submitted=1,
    )
