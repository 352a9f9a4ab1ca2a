import io

import pytest
from django.core.management import CommandError, call_command

from adplatform.kernel.auth import caller_for_key, forget_cached_keys
from adplatform.kernel.models import ApiKey, Retailer, hash_api_key
from audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_create_retailer_prints_the_key_alone_on_the_last_line():
    out = io.StringIO()
    call_command("create_retailer", "--name", "Acme", "--email", "ops@acme.example", stdout=out)
    raw_key = out.getvalue().strip().splitlines()[-1]
    retailer = Retailer.objects.get(name="Acme")
    key = ApiKey.objects.get(retailer=retailer)
    assert raw_key.startswith("adp_") and " " not in raw_key
    assert key.key_hash == hash_api_key(raw_key) and raw_key not in key.key_hash  # stored hashed
    assert caller_for_key(raw_key).retailer == retailer
    assert set(AuditEntry.objects.values_list("action", flat=True)) == {"retailer.created", "api_key.created"}


def test_create_retailer_refuses_a_duplicate_and_a_bad_email():
    call_command("create_retailer", "--name", "Acme", stdout=io.StringIO())
    with pytest.raises(CommandError, match="exists already"):
        call_command("create_retailer", "--name", "Acme", stdout=io.StringIO())
    with pytest.raises(CommandError, match="not a valid e-mail"):
        call_command("create_retailer", "--name", "Zephyr", "--email", "nope", stdout=io.StringIO())
    out = io.StringIO()
    call_command("create_retailer", "--name", "Acme", "--if-exists", "new-key", stdout=out)
    assert ApiKey.objects.filter(retailer__name="Acme").count() == 2


def test_a_revoked_key_stops_working(client):
    out = io.StringIO()
    call_command("create_retailer", "--name", "Acme", stdout=out)
    raw_key = out.getvalue().strip().splitlines()[-1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
    assert client.get("/api/v1/ads", **auth).status_code == 200
    from django.utils import timezone

    ApiKey.objects.update(revoked_at=timezone.now())
    forget_cached_keys()
    assert client.get("/api/v1/ads", **auth).status_code == 401


def test_create_retailer_makes_its_email_the_report_contact_unless_told_otherwise():
    call_command("create_retailer", "--name", "Acme", "--email", "ops@acme.example", stdout=io.StringIO())
    assert Retailer.objects.get(name="Acme").report_contacts == ["ops@acme.example"]
    call_command(
        "create_retailer",
        *("--name", "Zephyr", "--email", "ceo@zephyr.example"),
        *("--report-contact", "ads@zephyr.example", "--report-contact", "buyers@zephyr.example"),
        stdout=io.StringIO(),
    )
    assert Retailer.objects.get(name="Zephyr").report_contacts == ["ads@zephyr.example", "buyers@zephyr.example"]
    call_command("create_retailer", "--name", "Orbit", stdout=io.StringIO())
    assert Retailer.objects.get(name="Orbit").report_contacts == []
    with pytest.raises(CommandError, match="--report-contact 'nope' is not a valid e-mail"):
        call_command("create_retailer", "--name", "Nimbus", "--report-contact", "nope", stdout=io.StringIO())
