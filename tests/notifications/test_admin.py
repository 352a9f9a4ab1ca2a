"""Staff in the admin: a retailer's report contacts and time zone changed through the audited
service, failed webhook deliveries and report deliveries in view, secrets never shown."""

import pytest
from django.contrib.messages import get_messages

from audit.models import AuditEntry
from notifications.models import ReportDelivery, WebhookDelivery
from notifications.services import webhook_deliveries

pytestmark = pytest.mark.django_db

RETAILERS = "/admin/kernel/retailer/"


def act(client, retailer_ids, **form):
    data = {"action": "change_report_settings", "_selected_action": [str(i) for i in retailer_ids], **form}
    return client.post(RETAILERS, data)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_staff_change_report_contacts_and_time_zone(admin_client, retailer):
    form_page = act(admin_client, [retailer.id])
    assert form_page.status_code == 200
    assert form_page.context["form"].initial == {"report_contacts": retailer.email, "timezone": "UTC"}

    done = act(
        admin_client,
        [retailer.id],
        apply="1",
        report_contacts="ops@nimbus.example\nbuyers@nimbus.example, OPS@nimbus.example",
        timezone="Europe/Berlin",
    )
    assert done.status_code == 302
    retailer.refresh_from_db()
    assert (retailer.report_contacts, retailer.timezone) == (
        ["ops@nimbus.example", "buyers@nimbus.example"],
        "Europe/Berlin",
    )
    [entry] = AuditEntry.objects.filter(action="retailer.settings_updated")
    assert entry.actor == "staff:admin" and entry.data["timezone"] == {"from": "UTC", "to": "Europe/Berlin"}

    act(admin_client, [retailer.id], apply="1", report_contacts="", timezone="Europe/Berlin")  # no more reports
    retailer.refresh_from_db()
    assert retailer.report_contacts == []


@pytest.mark.parametrize(
    "contacts, zone, field, message",
    [
        (
            "ops@nimbus.example\nnot-an-address",
            "UTC",
            "report_contacts",
            "not-an-address: Enter a valid email address.",
        ),
        ("\n".join(f"ops{i}@nimbus.example" for i in range(21)), "UTC", "report_contacts", "no more than 20"),
        ("ops@nimbus.example", "Mars/Olympus_Mons", "timezone", "Not an IANA time zone name"),
        ("ops@nimbus.example", "", "timezone", "required"),
    ],
)
def test_bad_settings_show_the_form_again_and_change_nothing(admin_client, retailer, contacts, zone, field, message):
    response = act(admin_client, [retailer.id], apply="1", report_contacts=contacts, timezone=zone)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    retailer.refresh_from_db()
    assert (retailer.report_contacts, retailer.timezone) == ([retailer.email], "UTC")
    assert not AuditEntry.objects.filter(action="retailer.settings_updated").exists()


def test_one_retailer_at_a_time_and_only_with_the_permission(admin_client, client, auditor, retailer, other_retailer):
    response = act(
        admin_client, [retailer.id, other_retailer.id], apply="1", report_contacts="x@y.example", timezone="UTC"
    )
    assert response.status_code == 302 and "Select one retailer" in messages_of(response)[0]

    client.force_login(auditor)  # view-only on retailers
    response = act(client, [retailer.id], apply="1", report_contacts="x@y.example", timezone="Asia/Tokyo")
    assert response.status_code == 403
    retailer.refresh_from_db()
    assert (retailer.report_contacts, retailer.timezone) == ([retailer.email], "UTC")


def test_staff_find_failed_deliveries_and_sent_reports(admin_client, local_webhooks, retailer, receiver):
    hook = webhook_deliveries.webhook_endpoint_create(
        retailer=retailer, url=receiver.url(), events=["ad.rejected"], actor="t"
    )
    common = {"endpoint": hook, "event_type": "ad.rejected", "version": 2, "body": "{}"}
    failed = WebhookDelivery.objects.create(
        **common,
        event_id="0b6c2f4e-0000-4000-8000-000000000001",
        ad_id="0b6c2f4e-0000-4000-8000-0000000000a1",
        status="failed",
        attempts=27,
        last_status_code=500,
        last_error="HTTP 500: down",
    )
    WebhookDelivery.objects.create(
        **common,
        event_id="0b6c2f4e-0000-4000-8000-000000000002",
        ad_id="0b6c2f4e-0000-4000-8000-0000000000a2",
        status="delivered",
    )
    ReportDelivery.objects.create(
        retailer=retailer, date="2026-11-03", status="failed", last_error="SMTPServerDisconnected"
    )

    listed = admin_client.get("/admin/notifications/webhookdelivery/", {"status__exact": "failed"})
    assert [d.id for d in listed.context["cl"].result_list] == [failed.id]
    page = admin_client.get(f"/admin/notifications/webhookdelivery/{failed.id}/change/").content.decode()
    assert "HTTP 500: down" in page and hook.secret not in page
    assert (
        hook.secret not in admin_client.get(f"/admin/notifications/webhookendpoint/{hook.id}/change/").content.decode()
    )
    reports = admin_client.get("/admin/notifications/reportdelivery/", {"status__exact": "failed"})
    assert [(r.retailer, r.last_error) for r in reports.context["cl"].result_list] == [
        (retailer, "SMTPServerDisconnected")
    ]
