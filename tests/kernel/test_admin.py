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
