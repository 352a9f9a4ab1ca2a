"""The audit log in the admin: filters, search, read-only pages, the chain verification
button, the CSV export, and index-backed queries."""

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import AuditRecord, audit_record_many
from tests.conftest import explained
from tests.factories import submit_ad

pytestmark = pytest.mark.django_db
ENTRIES = "/admin/audit/auditentry/"


@pytest.fixture
def staff(client, auditor):
    client.force_login(auditor)
    return client


@pytest.fixture
def ads(retailer):
    return [submit_ad(retailer, external_ref="A"), submit_ad(retailer, external_ref="B", category="tobacco")]


def listed(client, query="") -> list[tuple]:
    response = client.get(f"{ENTRIES}?{query}")
    assert response.status_code == 200, response.content[:500]
    return [(e.action, e.ad_id) for e in response.context["cl"].result_list]


def messages_after(client, response) -> list[str]:
    assert response.status_code == 302
    return [str(m) for m in client.get(response["Location"]).context["messages"]]


def test_the_log_filters_by_action_actor_and_date_and_searches_by_ad(staff, ads):
    first, second = ads
    today = timezone.now().date()
    assert listed(staff, "action=ad.validated") == [("ad.validated", second.id), ("ad.validated", first.id)]
    assert listed(staff, "actor=system:validator") == listed(staff, "action=ad.validated")
    assert listed(staff, f"q={first.id}") == [("ad.validated", first.id), ("ad.submitted", first.id)]
    assert listed(staff, "q=not-an-id") == []
    # + staff.created, staff.role_changed and staff.login of the auditor
    assert len(listed(staff, f"occurred_at__from={today}")) == AuditEntry.objects.count() == 7
    assert listed(staff, f"occurred_at__to={today - timedelta(days=1)}") == []
    page = staff.get(ENTRIES).content.decode()
    for action in ("ad.submitted", "ad.validated", "staff.created"):
        assert f"?action={action}" in page  # the action filter offers each action in the log


def test_an_entry_is_read_only_for_everyone(staff, ads, admin_client):
    entry = AuditEntry.objects.filter(ad_id=ads[0].id).first()
    page = staff.get(f"{ENTRIES}{entry.sequence}/change/")
    assert (
        page.status_code == 200 and entry.hash in page.content.decode() and 'name="_save"' not in page.content.decode()
    )
    for client in (staff, admin_client):
        assert client.post(f"{ENTRIES}{entry.sequence}/change/", {"actor": "staff:mallory"}).status_code == 403
        assert client.post(f"{ENTRIES}{entry.sequence}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(sequence=entry.sequence).actor == entry.actor


def test_verify_chain_reports_an_intact_chain(staff, ads):
    assert staff.get(f"{ENTRIES}verify/").status_code == 405  # reading the whole log takes a POST
    (message,) = messages_after(staff, staff.post(f"{ENTRIES}verify/"))
    assert message.startswith("Audit log intact: 7 entries in ")


def test_verify_chain_in_the_admin_stops_when_its_time_is_up(staff, ads, settings):
    settings.AUDIT_VERIFY_ADMIN_SECONDS = -1  # out of time after the first entry
    response = staff.post(f"{ENTRIES}verify/")
    (message,) = staff.get(response["Location"]).context["messages"]
    assert message.level_tag == "warning" and "verify_audit_chain` checks all of it" in str(message)


def test_verify_chain_names_the_altered_entry(staff, ads):
    target = AuditEntry.objects.get(ad_id=ads[1].id, action="ad.validated")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(f"UPDATE {AuditEntry._meta.db_table} SET data = '{{}}' WHERE sequence = %s", [target.sequence])
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    (message,) = messages_after(staff, staff.post(f"{ENTRIES}verify/"))
    assert message.startswith(
        f"Audit chain {target.chain} broken at sequence {target.sequence}: its content does not match"
    )


def exported(client, query="") -> list[list[str]]:
    response = client.get(f"{ENTRIES}export/?{query}")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8" and "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_export_streams_the_filtered_list_in_sequence_order(staff, ads):
    rows = exported(staff, f"action=ad.submitted&q={ads[1].id}")
    assert rows[0][:5] == ["sequence", "occurred_at", "recorded_at", "actor", "action"]
    assert [(r[4], r[5]) for r in rows[1:]] == [("ad.submitted", str(ads[1].id))]
    everything = exported(staff)
    sequences = [int(r[0]) for r in everything[1:]]
    assert sequences == sorted(sequences) and len(sequences) == 7


def test_csv_export_neutralises_formulas(staff):
    with transaction.atomic():
        audit_record_many(records=[AuditRecord(event_id=uuid.uuid4(), action="-1+1", actor='=HYPERLINK("x")')])
    (row,) = exported(staff, "action=-1%2B1")[1:]
    assert row[3:5] == ['\'=HYPERLINK("x")', "'-1+1"]


def test_bad_export_filters_go_back_to_the_list(staff):
    response = staff.get(f"{ENTRIES}export/?occurred_at__from=someday")
    assert response.status_code == 302 and response["Location"] == ENTRIES


def test_staff_without_rights_can_neither_verify_nor_export(client, ads):
    client.force_login(get_user_model().objects.create_user("bob", password="bob-password", is_staff=True))
    assert client.post(f"{ENTRIES}verify/").status_code == 403
    assert client.get(f"{ENTRIES}export/").status_code == 403
    assert client.get(ENTRIES).status_code == 403


@pytest.mark.parametrize(
    "query, index",
    [
        ("action=ad.validated", "audit_action_sequence"),
        ("actor=system:validator", "audit_actor_sequence"),
        ("q={ad}", "audit_ad_sequence"),
        ("occurred_at__from=2026-01-01", "audit_occurred_at"),
    ],
)
def test_admin_queries_on_the_log_are_index_backed(staff, ads, query, index):
    plans = explained(staff, f"{ENTRIES}?{query.format(ad=ads[0].id)}", "enable_seqscan")
    assert not [plan for plan in plans if "Seq Scan" in plan]
    assert any(f" {index}" in plan for plan in plans), "\n\n".join(plans)


def test_the_log_names_retailers_and_keys_and_its_times_rise_with_the_sequence(staff, ads, retailer):
    page = staff.get(ENTRIES)
    html = page.content.decode()
    assert f"{retailer.name} (key factory)" in html and "column-retailer" in html
    shown = [entry.recorded_at for entry in page.context["cl"].result_list]
    assert shown == sorted(shown, reverse=True)  # newest sequence first, newest time first
    assert f">{retailer.id}<" not in html
