"""Retailers, API keys and dead letters in the admin: read-only, and no key hash shown."""

import pytest

from adplatform.kernel.models import ApiKey, DeadLetter
from adplatform.kernel.services import api_key_create

pytestmark = pytest.mark.django_db


def test_api_key_pages_never_show_the_hash(admin_client, retailer):
    raw_key = api_key_create(retailer=retailer, label="shop")
    key = ApiKey.objects.get(retailer=retailer)
    for url in ("/admin/kernel/apikey/", f"/admin/kernel/apikey/{key.id}/change/"):
        page = admin_client.get(url).content.decode()
        assert key.prefix in page and key.key_hash not in page and raw_key not in page
    assert admin_client.post(f"/admin/kernel/apikey/{key.id}/change/", {"label": "x"}).status_code == 403


def test_auditors_see_retailers_and_dead_letters_but_change_nothing(client, auditor, retailer):
    letter = DeadLetter.objects.create(task_name="ads_write.tasks.process_submissions_task", error="PoisonMessage: bad")
    client.force_login(auditor)
    assert retailer.name in client.get("/admin/kernel/retailer/").content.decode()
    assert "PoisonMessage: bad" in client.get("/admin/kernel/deadletter/").content.decode()
    assert client.get(f"/admin/kernel/deadletter/{letter.id}/change/").status_code == 200
    assert client.post(f"/admin/kernel/retailer/{retailer.id}/change/", {"name": "Renamed"}).status_code == 403
    assert client.post(f"/admin/kernel/deadletter/{letter.id}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/kernel/apikey/").status_code == 200  # read everything (never the hash)
    assert client.post("/admin/kernel/apikey/").status_code == 200  # no action: the list again


# --- staff revoke keys and deactivate retailers ---------------------------------------------
def staff_with(*perms: str):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("olga", password="x", is_staff=True)
    codenames = ["view_apikey", "view_retailer", *perms]
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="kernel", codename__in=codenames))
    return user


def action(client, model: str, name: str, ids) -> object:
    return client.post(
        f"/admin/kernel/{model}/", {"action": name, "_selected_action": [str(i) for i in ids]}, follow=True
    )


@pytest.mark.django_db(transaction=True)
def test_staff_with_the_permission_revoke_a_key_everywhere_at_once(client, retailer):
    from adplatform.kernel.services import api_key_issue
    from audit.models import AuditEntry
    from tests.kernel.test_api_keys import bearer

    leaked = api_key_issue(retailer=retailer, scopes=["read"])
    kept = api_key_issue(retailer=retailer, scopes=["read"])
    assert bearer(leaked.raw_key).get("/api/v1/ads").status_code == 200  # cached in this process
    client.force_login(staff_with("revoke_apikey"))
    found = client.get("/admin/kernel/apikey/", {"q": leaked.raw_key}).content.decode()  # the leaked key pasted
    assert leaked.key.prefix in found and kept.key.prefix not in found
    page = action(client, "apikey", "revoke_api_keys", [leaked.key.id])
    assert "Revoked 1 API key" in page.content.decode()
    assert bearer(leaked.raw_key).get("/api/v1/ads").status_code == 401
    assert bearer(kept.raw_key).get("/api/v1/ads").status_code == 200
    entry = AuditEntry.objects.get(action="api_key.revoked")
    assert entry.actor == "staff:olga" and entry.data["key_id"] == str(leaked.key.id)


@pytest.mark.django_db(transaction=True)
def test_staff_with_the_permission_deactivate_and_reactivate_a_retailer(client, retailer, other_retailer):
    from adplatform.kernel.services import api_key_create
    from audit.models import AuditEntry
    from tests.kernel.test_api_keys import bearer

    key = bearer(api_key_create(retailer=retailer))
    assert key.get("/api/v1/ads").status_code == 200
    client.force_login(staff_with("deactivate_retailer"))
    assert (
        "Deactivated 1 retailer" in action(client, "retailer", "deactivate_retailers", [retailer.id]).content.decode()
    )
    assert key.get("/api/v1/ads").status_code == 401
    action(client, "retailer", "reactivate_retailers", [retailer.id])
    assert key.get("/api/v1/ads").status_code == 200
    actions = (
        AuditEntry.objects.filter(actor="staff:olga", action__startswith="retailer.")
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert list(actions) == ["retailer.deactivated", "retailer.activated"]


def test_the_actions_are_shown_and_run_only_with_their_permissions(client, retailer):
    from django.contrib.auth.models import Permission

    raw_key = api_key_create(retailer=retailer)
    key = ApiKey.objects.get(retailer=retailer)
    staff = staff_with()  # may view keys and retailers, nothing more
    client.force_login(staff)
    assert "revoke_api_keys" not in client.get("/admin/kernel/apikey/").content.decode()
    assert "deactivate_retailers" not in client.get("/admin/kernel/retailer/").content.decode()
    action(client, "apikey", "revoke_api_keys", [key.id])
    action(client, "retailer", "deactivate_retailers", [retailer.id])
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None and type(retailer).objects.get(pk=retailer.pk).is_active
    assert raw_key

    # The permissions a later "Operators" group would carry: the actions appear.
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["revoke_apikey", "deactivate_retailer"]))
    client.force_login(type(staff).objects.get(pk=staff.pk))  # a fresh permission cache
    assert "revoke_api_keys" in client.get("/admin/kernel/apikey/").content.decode()
    page = client.get("/admin/kernel/retailer/").content.decode()
    assert "deactivate_retailers" in page and "reactivate_retailers" in page
