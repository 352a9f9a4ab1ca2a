"""The log becomes several chains, each with its own lock (audit.services). Entries written
before this are chain 0, and hash as they did.

On SQLite, adding the column rebuilds the table, which drops its triggers: they are
installed again (0003's SQL)."""

import importlib

from django.db import migrations, models

append_only = importlib.import_module("audit.migrations.0003_append_only_triggers")


def reinstall_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        append_only.install(apps, schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0004_auditors_group"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="chain",
            field=models.PositiveSmallIntegerField(db_default=0, default=0, help_text="The chain this entry links into."),
        ),
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(fields=["chain", "sequence"], name="audit_chain_sequence"),
        ),
        migrations.RunPython(reinstall_sqlite_triggers, migrations.RunPython.noop),
    ]
