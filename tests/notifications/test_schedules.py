"""Beat runs the daily report at the configured time of the configured zone, and the
webhook sweep every few seconds; the tasks go to their queues."""

import pickle
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from django.conf import settings

from adplatform.celery import app
from notifications.schedules import daily_at
from tests.conftest import ROOT, worker_env


def test_the_beat_schedule_has_the_daily_report_at_the_configured_time():
    entry = app.conf.beat_schedule["report-daily-failed-ads"]
    assert entry["task"] == "notifications.tasks.report_daily_failed_ads_task"
    hour, minute = (int(part) for part in settings.REPORT_DAILY_AT.split(":"))
    assert (entry["schedule"].hour, entry["schedule"].minute, entry["schedule"].zone) == (
        {hour},
        {minute},
        settings.REPORT_TIMEZONE,
    )
    assert app.conf.beat_schedule["webhook-sweep"]["task"] == "notifications.tasks.webhook_sweep_task"
    assert app.conf.beat_schedule["webhook-sweep"]["schedule"] == 10.0


def test_the_time_and_zone_come_from_the_environment():
    probe = (
        "import django; django.setup(); from adplatform.celery import app; "
        "s = app.conf.beat_schedule['report-daily-failed-ads']['schedule']; print(sorted(s.hour), sorted(s.minute), s.zone)"
    )
    env = worker_env(REPORT_DAILY_AT="05:30", REPORT_TIMEZONE="Europe/Berlin")
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[5] [30] Europe/Berlin"


def test_the_schedule_fires_at_that_time_in_its_zone():
    schedule = daily_at("02:00", zone="Asia/Tokyo")
    schedule.app = app
    start, delta, _ = schedule.remaining_delta(datetime(2026, 11, 3, 1, 0, tzinfo=UTC))  # 10:00 in Tokyo
    assert (start + delta).astimezone(UTC) == datetime(2026, 11, 3, 17, 0, tzinfo=UTC)  # 02:00 next day there
    restored = pickle.loads(pickle.dumps(schedule))  # beat persists its schedule
    assert restored.zone == "Asia/Tokyo" and restored == schedule and restored != daily_at("02:00", zone="UTC")


@pytest.mark.parametrize("text", ["2:00pm", "24:00", "02:60", "0200", ""])
def test_a_bad_time_fails_at_start_up(text):
    with pytest.raises(ValueError, match="HH:MM"):
        daily_at(text, zone="UTC")


@pytest.mark.parametrize(
    "task, queue",
    [
        ("notifications.tasks.report_daily_failed_ads_task", "reports"),
        ("notifications.tasks.report_failed_ads_send_task", "reports"),
        ("notifications.tasks.webhook_send_task", "notifications"),
        ("notifications.tasks.webhook_sweep_task", "notifications"),
    ],
)
def test_tasks_are_routed_to_their_queues(task, queue):
    assert app.amqp.router.route({}, task)["queue"].name == queue
