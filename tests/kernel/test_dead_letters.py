"""Dead letters: written once per open message, replayed by one service behind the
management command and the admin action."""

import pytest
import redis
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from adplatform.kernel.admin_actions import replay_dead_letters
from adplatform.kernel.models import DeadLetter
from adplatform.kernel.services import dead_letter_replay
from adplatform.kernel.task_base import dead_letter_record
from ads_write.services.events import PROCESS_SUBMISSIONS_TASK
from audit.models import AuditEntry
from tests.conftest import queued_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_intake_queue():
    redis.Redis.from_url(settings.REDIS_URL).delete("intake")


def letter(**fields) -> DeadLetter:
    defaults = {"task_name": PROCESS_SUBMISSIONS_TASK, "args": [[{"ad_id": "x"}]], "error": "IntegrityError: boom"}
    return DeadLetter.objects.create(**{**defaults, **fields})


def test_a_message_is_dead_lettered_once_while_its_letter_is_open():
    for attempt in range(3):  # redeliveries and retries of the same message
        assert dead_letter_record(task_name="t", task_id=f"id-{attempt}", args=[[1]], error=ValueError("bad"))
    assert DeadLetter.objects.count() == 1
    DeadLetter.objects.update(replayed_at="2026-01-01T00:00:00Z")
    dead_letter_record(task_name="t", args=[[1]], error=ValueError("bad again"))  # failed after its replay
    dead_letter_record(task_name="t", args=[[2]], error=ValueError("another message"))
    assert DeadLetter.objects.count() == 3


def test_replay_republishes_the_original_task_marks_the_letter_and_audits_it():
    ghost = letter(args=[[{"ad_id": "ghost"}]])
    undecodable = letter(task_name="", args=[], kwargs={"body": "{not json"})
    unknown = letter(task_name="ads_write.tasks.gone_task", args=[1])

    outcome = dead_letter_replay(ids=[ghost.id, undecodable.id, unknown.id, 999_999], actor="staff:ines")

    assert outcome.replayed == [ghost.id]
    assert set(outcome.skipped) == {undecodable.id, unknown.id, 999_999}
    assert "could not be decoded" in outcome.skipped[undecodable.id]
    assert "unknown task" in outcome.skipped[unknown.id]
    assert queued_tasks(settings.REDIS_URL) == [(PROCESS_SUBMISSIONS_TASK, [[{"ad_id": "ghost"}]])]
    ghost.refresh_from_db()
    undecodable.refresh_from_db()
    assert ghost.replayed_at is not None and undecodable.replayed_at is None
    (entry,) = AuditEntry.objects.filter(action="dead_letter.replayed")
    assert entry.actor == "staff:ines" and entry.data["dead_letter_id"] == ghost.id and entry.data["task_id"]

    dead_letter_replay(ids=[ghost.id])  # again: re-published again, audited again
    assert len(queued_tasks(settings.REDIS_URL)) == 2
    assert AuditEntry.objects.filter(action="dead_letter.replayed").count() == 2


def test_the_command_replays_by_id_by_task_or_all_open_letters(capsys):
    first, second = letter(args=[[{"n": 1}]]), letter(args=[[{"n": 2}]])
    other = letter(task_name="ads_read.tasks.project_ads_task", args=[["id"]])
    done = letter(args=[[{"n": 3}]], replayed_at="2026-01-01T00:00:00Z")

    with pytest.raises(CommandError):
        call_command("replay_dead_letters")
    call_command("replay_dead_letters", "--task", PROCESS_SUBMISSIONS_TASK)
    assert f"Replayed 2 dead letter(s): {first.id} {second.id}" in capsys.readouterr().out
    call_command("replay_dead_letters", "--all")  # the open ones: only `other` is left
    assert f"Replayed 1 dead letter(s): {other.id}" in capsys.readouterr().out
    call_command("replay_dead_letters", "--id", str(done.id))  # by id, even if replayed before
    assert f"Replayed 1 dead letter(s): {done.id}" in capsys.readouterr().out
    assert len(queued_tasks(settings.REDIS_URL)) == 3  # other went to the projections queue


def admin_request(user):
    request = RequestFactory().post("/admin/kernel/deadletter/")
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_the_admin_action_replays_for_staff_allowed_to_change_dead_letters():
    stuck = letter()
    model_admin = admin.ModelAdmin(DeadLetter, admin.site)
    auditor = User.objects.create_user("auditor", is_staff=True)
    officer = User.objects.create_user("officer", is_staff=True)
    officer.user_permissions.add(Permission.objects.get(codename="change_deadletter"))

    refused = admin_request(auditor)
    with pytest.raises(PermissionDenied, match="permission"):
        replay_dead_letters(model_admin, refused, DeadLetter.objects.all())
    assert DeadLetter.objects.get(id=stuck.id).replayed_at is None

    allowed = admin_request(User.objects.get(id=officer.id))  # fresh: permissions are cached per user object
    replay_dead_letters(model_admin, allowed, DeadLetter.objects.all())
    assert [str(m) for m in get_messages(allowed)] == ["Replayed 1 dead letter(s)."]
    assert DeadLetter.objects.get(id=stuck.id).replayed_at is not None
    assert AuditEntry.objects.get(action="dead_letter.replayed").actor == "staff:officer"
