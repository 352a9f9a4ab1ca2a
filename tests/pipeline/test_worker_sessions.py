"""A worker keeps its PostgreSQL sessions from task to task (CELERY_DB_REUSE_MAX), and
replaces one that broke before a task uses it (adplatform/celery.py)."""

import pytest
from django.db import connection

from adplatform.kernel.auth import Caller
from ads_read.models import AdView
from ads_write.services import intake
from ads_write.validation.basic import validate_basic
from tests.conftest import wait_for
from tests.factories import ad_payload

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

ADS = 15


def worker_sessions() -> set[tuple]:
    """The client sessions on the test database other than this test's, each as (pid,
    start time): the worker's pool processes are the only other clients during the test."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        return set(cursor.fetchall())


def submit_and_wait(caller, index: int) -> None:
    """One ad, one intake message; the next only once the read model has it final, so that
    every ad costs the worker at least two tasks of its own (intake and projection)."""
    ad = validate_basic(ad_payload(external_ref=f"sessions-{index}")).ad
    (accepted,) = intake.ads_submit(caller=caller, ads=[ad], mode="direct")

    def final():
        return AdView.objects.filter(id=accepted.id).exclude(status="pending").exists()

    wait_for(final, timeout=60, what=f"ad {index} to reach its final state")


def test_a_worker_keeps_its_database_sessions_from_task_to_task(celery_worker, retailer):
    caller = Caller(retailer=retailer, key_prefix="test")
    submit_and_wait(caller, 0)
    # Celery's fixup alone would close every session after its task: none would be left.
    before = worker_sessions()
    assert before, "no worker session outlived its task"

    for index in range(1, ADS + 1):
        submit_and_wait(caller, index)

    # The same sessions served all 2 x ADS tasks. A pool process that had no task yet may
    # have opened its first session meanwhile: one per process at most.
    after = worker_sessions()
    assert before <= after, f"sessions {sorted(before - after)} were closed between tasks"
    assert len(after - before) <= celery_worker.concurrency, (
        f"{len(after - before)} sessions opened for {2 * ADS} tasks"
    )


def test_a_session_that_broke_between_tasks_is_replaced_before_the_next_task_uses_it(celery_worker, retailer):
    caller = Caller(retailer=retailer, key_prefix="test")
    submit_and_wait(caller, 100)
    log_before = celery_worker.log_path.read_text()

    # As a PostgreSQL restart or an idle timeout would: end every session but this test's.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 1  # the worker's sessions were there to end

    for index in range(101, 105):
        submit_and_wait(caller, index)

    # No task failed or retried on a dead connection: each checked its session first.
    log = celery_worker.log_path.read_text()[len(log_before) :]
    assert "OperationalError" not in log and "InterfaceError" not in log and "retry" not in log.lower(), log[-3000:]
