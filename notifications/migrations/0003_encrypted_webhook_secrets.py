"""Webhook signing secrets encrypted at rest (issue 21): the column becomes text (a token is
longer than the secret), the secrets stored in clear are encrypted under the current key
(settings.WEBHOOK_SECRET_KEY_ID), and the field is the encrypted one."""

from django.db import migrations, models

import adplatform.kernel.encryption

CHUNK = 1000


def encrypt_clear_secrets(apps, schema_editor):
    from adplatform.kernel.encryption import encrypt, is_encrypted

    # The historical model's column is still plain text here: it reads what is stored.
    endpoints = apps.get_model("notifications", "WebhookEndpoint").objects
    for endpoint_id, stored in endpoints.values_list("id", "secret").iterator(chunk_size=CHUNK):
        if not is_encrypted(stored):
            endpoints.filter(id=endpoint_id).update(secret=encrypt(stored))


def decrypt_secrets(apps, schema_editor):
    from adplatform.kernel.encryption import decrypt, is_encrypted

    endpoints = apps.get_model("notifications", "WebhookEndpoint").objects
    for endpoint_id, stored in endpoints.values_list("id", "secret").iterator(chunk_size=CHUNK):
        if is_encrypted(stored):
            endpoints.filter(id=endpoint_id).update(secret=decrypt(stored))


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_appeal_webhook_event"),
    ]

    operations = [
        migrations.AlterField(model_name="webhookendpoint", name="secret", field=models.TextField()),
        migrations.RunPython(encrypt_clear_secrets, decrypt_secrets, elidable=False),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=adplatform.kernel.encryption.EncryptedTextField(),
        ),
    ]
