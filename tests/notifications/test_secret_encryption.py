"""Webhook signing secrets are stored encrypted under a key kept outside the database (issue 21):
the column holds no clear secret, keys rotate, a wrong or missing key fails loudly."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from adplatform.kernel.encryption import SecretUnreadable, decrypt, key_id_of
from audit.models import AuditEntry
from notifications.models import WebhookEndpoint
from notifications.services import webhook_deliveries

pytestmark = pytest.mark.django_db

OLD, NEW = "k1-" + "a" * 40, "k2-" + "b" * 40


@pytest.fixture
def keys(local_webhooks):
    settings = local_webhooks  # endpoints on the loopback
    settings.WEBHOOK_SECRET_KEYS, settings.WEBHOOK_SECRET_KEY_ID = {"k1": OLD}, "k1"
    return settings


def stored_secret(endpoint_id) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM notifications_webhookendpoint WHERE id = %s", [endpoint_id])
        return cursor.fetchone()[0]


def register(retailer):
    return webhook_deliveries.webhook_endpoint_create(
        retailer=retailer, url="http://127.0.0.1:9/in", events=["ad.rejected"], actor="retailer:test"
    )


def test_the_column_holds_no_clear_secret_and_the_model_reads_it_back(keys, retailer):
    endpoint = register(retailer)
    clear = endpoint.secret
    assert clear.startswith("whsec_")
    stored = stored_secret(endpoint.id)
    assert clear not in stored and clear.removeprefix("whsec_") not in stored
    assert stored.startswith("fernet:k1:") and key_id_of(stored) == "k1"
    assert WebhookEndpoint.objects.get(id=endpoint.id).secret == clear
    # The same secret encrypts differently each time: the column says nothing of equal secrets.
    WebhookEndpoint.objects.filter(id=endpoint.id).update(secret=clear)
    assert stored_secret(endpoint.id) != stored and decrypt(stored_secret(endpoint.id)) == clear


def test_a_rotation_re_encrypts_under_the_new_key_and_the_old_one_can_go(keys, retailer, capsys):
    endpoints = [register(retailer) for _ in range(3)]
    keys.WEBHOOK_SECRET_KEYS, keys.WEBHOOK_SECRET_KEY_ID = {"k1": OLD, "k2": NEW}, "k2"
    call_command("reencrypt_webhook_secrets")
    assert "3 webhook secret(s) now encrypted under key 'k2'" in capsys.readouterr().out
    assert {key_id_of(stored_secret(e.id)) for e in endpoints} == {"k2"}
    keys.WEBHOOK_SECRET_KEYS = {"k2": NEW}
    assert [WebhookEndpoint.objects.get(id=e.id).secret for e in endpoints] == [e.secret for e in endpoints]


def test_a_rotation_is_audited_with_who_ran_it(keys, retailer):
    register(retailer)
    keys.WEBHOOK_SECRET_KEYS, keys.WEBHOOK_SECRET_KEY_ID = {"k1": OLD, "k2": NEW}, "k2"
    call_command("reencrypt_webhook_secrets", "--by", "staff:ops-anna")
    (entry,) = AuditEntry.objects.filter(action="webhook.secrets_reencrypted")
    assert entry.actor == "staff:ops-anna" and entry.data["count"] == 1 and entry.data["key_id"] == "k2"
    assert {"os_user", "host"} <= entry.data.keys()
    call_command("reencrypt_webhook_secrets")  # nobody named: still the command line's, and the account's
    assert AuditEntry.objects.filter(action="webhook.secrets_reencrypted", actor="system:cli").count() == 1


def test_a_wrong_or_missing_key_fails_loudly(keys, retailer):
    endpoint = register(retailer)
    keys.WEBHOOK_SECRET_KEYS = {"k1": "k1-" + "c" * 40}  # the same id, another secret
    with pytest.raises(SecretUnreadable, match="does not open"):
        WebhookEndpoint.objects.get(id=endpoint.id)
    keys.WEBHOOK_SECRET_KEYS, keys.WEBHOOK_SECRET_KEY_ID = {"k2": NEW}, "k2"  # k1 dropped too early
    with pytest.raises(SecretUnreadable, match="no key 'k1'"):
        WebhookEndpoint.objects.get(id=endpoint.id)
    with pytest.raises(CommandError, match="nothing re-encrypted"):
        call_command("reencrypt_webhook_secrets")
    assert not AuditEntry.objects.filter(action="webhook.secrets_reencrypted").exists()  # nothing changed
    keys.WEBHOOK_SECRET_KEYS = {"k1": OLD, "k2": NEW}
    assert key_id_of(stored_secret(endpoint.id)) == "k1"  # left as it was


def test_a_secret_stored_in_clear_is_refused(keys, retailer):
    endpoint = register(retailer)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE notifications_webhookendpoint SET secret = 'whsec_clear' WHERE id = %s", [endpoint.id])
    with pytest.raises(SecretUnreadable, match="not encrypted"):
        WebhookEndpoint.objects.get(id=endpoint.id)


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_the_secrets_stored_in_clear(keys, retailer):
    executor = MigrationExecutor(connection)
    executor.migrate([("notifications", "0002_appeal_webhook_event")])
    try:
        old_model = executor.loader.project_state([("notifications", "0002_appeal_webhook_event")]).apps
        endpoint = old_model.get_model("notifications", "WebhookEndpoint").objects.create(
            retailer_id=retailer.id, url="https://hooks.example/in", events=["ad.rejected"], secret="whsec_from-before"
        )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes("notifications"))
    stored = stored_secret(endpoint.id)
    assert stored.startswith("fernet:k1:") and "from-before" not in stored
    assert WebhookEndpoint.objects.get(id=endpoint.id).secret == "whsec_from-before"
