"""Every intake event delivered three times, in a shuffled order, in messages of mixed
sizes: the state must be exactly that of a clean run delivering each event once, in order."""

import random

import pytest

from ads_write.services.events import PROCESS_SUBMISSIONS_TASK

from .conftest import payloads, report, snapshot, wait_all_final

pytestmark = pytest.mark.faults


def test_events_delivered_three_times_shuffled_leave_the_state_of_a_clean_run(platform, retailer_client):
    web = platform.start_web(mode="direct")
    answers = retailer_client(web).submit_all(payloads(40, prefix="dup"))
    assert [a.status_code for a in answers] == [202] * len(answers)
    # No worker yet: the intake messages wait in Redis. Take the events out of them.
    events = [event for (payload,) in platform.queued_messages() for event in payload]
    assert len(events) == len(answers)
    platform.redis.client().flushdb()

    # The clean run: each event once, in the order submitted.
    for event in events:
        platform.publish(PROCESS_SUBMISSIONS_TASK, [event])
    clean_worker = platform.start_worker()
    wait_all_final(platform, len(events))
    clean = snapshot(platform)
    clean_worker.stop()

    # The same events on a fresh database: each three times, shuffled, 1-4 to a message
    # (a message may carry the same event twice).
    platform.postgres.clone(platform.db)
    platform.redis.client().flushdb()
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    copies = events * 3
    rng.shuffle(copies)
    while copies:
        size = rng.randint(1, 4)
        platform.publish(PROCESS_SUBMISSIONS_TASK, copies[:size])
        copies = copies[size:]
    platform.start_worker()
    wait_all_final(platform, len(events))
    duplicated = snapshot(platform)

    differing = [part for part in clean if duplicated[part] != clean[part]]
    report(
        scenario="every event 3x, shuffled",
        submitted=len(events),
        final=len(duplicated["read rows"]),
        lost=len(events) - len(duplicated["read rows"]),
        duplicated=len(duplicated["verdicts"]) - len(events),
    )
    assert not differing, f"the state differs from the clean run in {differing} (shuffle seed {seed})"
    assert len(clean["verdicts"]) == len(events) and len(clean["audit"]) == 2 * len(events)
