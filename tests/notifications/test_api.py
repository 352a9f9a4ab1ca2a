"""The notification API: webhook endpoints and their deliveries, notification settings."""

import pytest

from audit.models import AuditEntry
from notifications.models import WebhookEndpoint
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_register_list_read_and_delete_a_webhook(api, local_webhooks, retailer, receiver):
    created = api.post(
        "/api/v1/webhooks",
        {"url": receiver.url(), "events": ["ad.rejected", "ad.decided", "ad.rejected"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["events"] == ["ad.decided", "ad.rejected"] and body["secret"].startswith("whsec_")
    assert WebhookEndpoint.objects.get(id=body["id"]).secret == body["secret"]  # kept, to sign with

    page = api.get("/api/v1/webhooks").json()
    listed = page["results"]
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]  # shown once only
    assert page["next"] is None  # cursor pages, like every list
    detail = api.get(f"/api/v1/webhooks/{body['id']}").json()
    assert detail["url"] == receiver.url() and "secret" not in detail
    assert api.get(f"/api/v1/webhooks/{body['id']}/deliveries").json() == {
        "results": [],
        "next": None,
        "next_cursor": None,
    }

    assert api.delete(f"/api/v1/webhooks/{body['id']}").status_code == 204
    assert api.get(f"/api/v1/webhooks/{body['id']}").status_code == 404
    assert api.delete(f"/api/v1/webhooks/{body['id']}").status_code == 404
    actions = AuditEntry.objects.filter(retailer_id=retailer.id, action__startswith="webhook.").values_list(
        "action", "actor"
    )
    assert [a for a, _ in actions] == ["webhook.created", "webhook.deleted"]
    assert all(actor.startswith(f"retailer:{retailer.id}/key:") for _, actor in actions)


def test_another_retailers_webhook_is_not_found(api, local_webhooks, other_retailer, receiver):
    theirs = (
        client_for(other_retailer)
        .post("/api/v1/webhooks", {"url": receiver.url(), "events": ["ad.approved"]}, format="json")
        .json()
    )
    for response in (
        api.get(f"/api/v1/webhooks/{theirs['id']}"),
        api.delete(f"/api/v1/webhooks/{theirs['id']}"),
        api.get(f"/api/v1/webhooks/{theirs['id']}/deliveries"),
    ):
        assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    assert WebhookEndpoint.objects.filter(id=theirs["id"]).exists()
    assert api.get("/api/v1/webhooks/not-a-uuid").status_code == 404


@pytest.mark.parametrize(
    "payload, status, field",
    [
        ({"url": "https://10.0.0.1/hooks", "events": ["ad.rejected"]}, 422, None),
        ({"url": "https://169.254.169.254/latest", "events": ["ad.rejected"]}, 422, None),
        ({"url": "http://hooks.example.com/x", "events": ["ad.rejected"]}, 422, None),
        ({"url": "https://hooks.example.com/x", "events": []}, 400, "events"),
        ({"url": "https://hooks.example.com/x", "events": ["ad.exploded"]}, 400, "events"),
        ({"url": "not a url", "events": ["ad.rejected"]}, 400, "url"),
        ({"events": ["ad.rejected"]}, 400, "url"),
        ({"url": "https://hooks.example.com/x", "events": ["ad.rejected"], "secret": "mine"}, 400, "secret"),
    ],
)
def test_bad_registrations_are_problems(api, settings, payload, status, field):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    response = api.post("/api/v1/webhooks", payload, format="json")
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    if field:
        assert {e["field"].split(".")[0] for e in response.json()["errors"]} == {field}
    else:
        assert response.json()["type"].endswith("/webhook-rejected")
    assert not WebhookEndpoint.objects.exists()


def test_the_number_of_endpoints_is_limited(api, local_webhooks, receiver):
    local_webhooks.WEBHOOK_MAX_ENDPOINTS = 2
    answers = [
        api.post("/api/v1/webhooks", {"url": receiver.url(f"/{i}"), "events": ["ad.approved"]}, format="json")
        for i in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 422]
    assert "at most 2" in answers[2].json()["detail"]


def test_endpoints_are_listed_in_the_order_registered_on_cursor_pages(api, local_webhooks, receiver):
    ids = [
        api.post("/api/v1/webhooks", {"url": receiver.url(f"/{i}"), "events": ["ad.approved"]}, format="json").json()[
            "id"
        ]
        for i in range(3)
    ]
    first = api.get("/api/v1/webhooks", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    assert [e["id"] for e in first["results"] + second["results"]] == ids and second["next"] is None


def test_deliveries_list_filters_by_status(api, local_webhooks, receiver):
    hook = api.post("/api/v1/webhooks", {"url": receiver.url(), "events": ["ad.approved"]}, format="json").json()
    response = api.get(f"/api/v1/webhooks/{hook['id']}/deliveries", {"status": "exploded"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "status"


# --- settings -----------------------------------------------------------------------------
def test_read_and_change_report_contacts_and_time_zone(api, retailer):
    assert api.get("/api/v1/settings").json() == {"report_contacts": [retailer.email], "timezone": "UTC"}
    changed = api.patch(
        "/api/v1/settings",
        {"report_contacts": ["a@nimbus.example", "b@nimbus.example", "A@nimbus.example"], "timezone": "Asia/Tokyo"},
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json() == {"report_contacts": ["a@nimbus.example", "b@nimbus.example"], "timezone": "Asia/Tokyo"}
    retailer.refresh_from_db()
    assert (retailer.report_contacts, retailer.timezone) == (["a@nimbus.example", "b@nimbus.example"], "Asia/Tokyo")
    assert (
        api.patch("/api/v1/settings", {"timezone": "Europe/Berlin"}, format="json").json()["report_contacts"]
        == retailer.report_contacts
    )
    [first, second] = AuditEntry.objects.filter(action="retailer.settings_updated").order_by("sequence")
    assert first.data["timezone"] == {"from": "UTC", "to": "Asia/Tokyo"} and set(first.data) == {
        "timezone",
        "report_contacts",
    }
    assert second.data == {"timezone": {"from": "Asia/Tokyo", "to": "Europe/Berlin"}}
    api.patch("/api/v1/settings", {"timezone": "Europe/Berlin"}, format="json")  # no change: no audit entry
    assert AuditEntry.objects.filter(action="retailer.settings_updated").count() == 2


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"report_contacts": ["not-an-address"]}, "report_contacts"),
        ({"report_contacts": "ops@nimbus.example"}, "report_contacts"),
        ({"report_contacts": [f"ops{i}@nimbus.example" for i in range(21)]}, "report_contacts"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezon": "Europe/Berlin"}, "timezon"),
    ],
)
def test_bad_settings_are_refused_per_field(api, retailer, payload, field):
    response = api.patch("/api/v1/settings", payload, format="json")
    assert response.status_code == 400 and response["Content-Type"] == "application/problem+json"
    assert {e["field"].split(".")[0] for e in response.json()["errors"]} == {field}
    retailer.refresh_from_db()
    assert (retailer.report_contacts, retailer.timezone) == ([retailer.email], "UTC")
