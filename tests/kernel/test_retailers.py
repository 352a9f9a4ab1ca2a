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


def _new_key(name="Acme") -> str:
    out = io.StringIO()
    call_command("create_retailer", "--name", name, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


@pytest.mark.django_db(transaction=True)  # the key stamp is replaced on commit
def test_staff_revoke_a_key_with_the_command_by_id_prefix_or_the_whole_key(client):
    raw_key = _new_key()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
    assert client.get("/api/v1/ads", **auth).status_code == 200  # cached in this process
    out = io.StringIO()
    call_command("api_keys", "revoke", raw_key, "--by", "alice", stdout=out)
    assert "Revoked key" in out.getvalue()
    assert client.get("/api/v1/ads", **auth).status_code == 401
    entry = AuditEntry.objects.get(action="api_key.revoked")
    assert entry.actor == "staff:alice"
    call_command("api_keys", "revoke", str(ApiKey.objects.get().id), stdout=out)  # again: nothing changes
    assert AuditEntry.objects.filter(action="api_key.revoked").count() == 1
    with pytest.raises(CommandError, match="No API key"):
        call_command("api_keys", "revoke", "nope", stdout=io.StringIO())


def test_staff_make_and_list_keys_with_the_command():
    _new_key()
    out = io.StringIO()
    call_command(
        "api_keys", "create", "--retailer", "Acme", "--label", "ci", "--scope", "read", "--scope", "keys", stdout=out
    )
    raw_key = out.getvalue().strip().splitlines()[-1]
    assert caller_for_key(raw_key).scopes == {"read", "keys"}
    listing = io.StringIO()
    call_command("api_keys", "list", "--retailer", "Acme", stdout=listing)
    assert "read,keys" in listing.getvalue() and "ci" in listing.getvalue() and raw_key not in listing.getvalue()


@pytest.mark.django_db(transaction=True)  # the key stamp is replaced on commit
def test_deactivate_retailer_refuses_its_keys_at_once_and_reactivate_undoes_it(client):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {_new_key()}"}
    assert client.get("/api/v1/ads", **auth).status_code == 200
    call_command("deactivate_retailer", "Acme", "--by", "alice", stdout=io.StringIO())
    assert client.get("/api/v1/ads", **auth).status_code == 401
    call_command("deactivate_retailer", "Acme", "--reactivate", stdout=io.StringIO())
    assert client.get("/api/v1/ads", **auth).status_code == 200
    assert list(
        AuditEntry.objects.filter(action__startswith="retailer.ac").values_list("action", "actor").order_by("sequence")
    ) == [("retailer.activated", "system:cli")]
    assert AuditEntry.objects.get(action="retailer.deactivated").actor == "staff:alice"
