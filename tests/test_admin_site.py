"""The admin as compliance staff see it: its name, ISO 8601 times with the zone, and 403 /
404 pages inside its chrome for staff (the API keeps its JSON problems)."""

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import held_ad, submit_ad

pytestmark = pytest.mark.django_db


def test_the_admin_is_branded_for_compliance(client, auditor):
    client.force_login(auditor)
    page = client.get("/admin/").content.decode()
    assert "<title>Compliance workspace | adplatform compliance</title>" in page
    assert "adplatform compliance</a>" in page and "Django administration" not in page


def test_times_in_lists_and_pages_are_iso_8601_with_the_zone(client, reviewer, retailer):
    ad = submit_ad(retailer)
    client.force_login(reviewer)
    listing = client.get("/admin/ads_write/ad/").content.decode()
    stamp = ad.submitted_at.strftime("%Y-%m-%dT%H:%M:%S+0000")
    assert stamp in listing
    page = client.get(f"/admin/ads_write/ad/{ad.id}/change/").content.decode()
    assert stamp in page and not re.search(r"\b(a|p)\.m\.", page)


def test_a_refusal_and_a_missing_page_are_inside_the_admin_for_staff(client, auditor, retailer):
    ad = held_ad(retailer)
    client.force_login(auditor)
    refused = client.post(f"/admin/ads_write/heldad/{ad.id}/decide/", {}, HTTP_REFERER="http://testserver/admin/")
    html = refused.content.decode()
    assert refused.status_code == 403 and refused["Content-Type"].startswith("text/html")
    assert "Not allowed (403)" in html and '<a href="http://testserver/admin/" class="button" id="go-back">' in html
    assert 'id="user-tools"' in html  # the admin's chrome: who is signed in, and the way out
    missing = client.get("/admin/ads_write/heldad/00000000-0000-0000-0000-000000000000/change/")
    assert missing.status_code == 404 and "Not found (404)" in missing.content.decode()


def test_the_api_keeps_its_problems(client):
    response = client.get("/api/v1/nowhere")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    anonymous = client.get("/admin/ads_write/heldad/00000000-0000-0000-0000-000000000000/decide/")
    assert anonymous.status_code == 302  # not signed in: the admin's login, as ever


OUR_APPS = {"kernel", "ads_write", "ads_read", "audit", "notifications"}


def test_every_list_of_ours_has_filters_that_work(admin_client, retailer):
    held_ad(retailer)
    lists = [
        (model, model_admin) for model, model_admin in admin.site._registry.items() if model._meta.app_label in OUR_APPS
    ]
    assert len(lists) >= 10
    for model, model_admin in lists:
        assert model_admin.list_filter, f"{model.__name__} lists without filters"
        page = admin_client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
        assert page.status_code == 200 and 'id="changelist-filter"' in page.content.decode(), model.__name__
