"""The chain becomes keyed (audit.chain): each entry stores the id of the HMAC key its hash
was made with. Entries written before keep an empty key id and verify as plain SHA-256.

A constant default adds the column without rewriting the table on PostgreSQL. On SQLite,
adding it rebuilds the table, which drops its triggers: they are installed again (0003's SQL)."""

import importlib

from django.db import migrations, models

append_only = importlib.import_module("audit.migrations.0003_append_only_triggers")


def reinstall_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        append_only.install(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_chains")]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="key_id",
            field=models.CharField(
                blank=True,
                db_default="",
                default="",
                help_text="The AUDIT_HMAC_KEYS key the hash is keyed with; empty: written before keys, plain SHA-256.",
                max_length=32,
            ),
        ),
        migrations.RunPython(reinstall_sqlite_triggers, migrations.RunPython.noop),
    ]
