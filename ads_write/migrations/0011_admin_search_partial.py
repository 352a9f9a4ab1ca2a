"""Trigram indexes for the queue's partial search of external refs and ad ids (PostgreSQL
only), on the very expressions Django's `icontains` produces (see 0003)."""

from django.db import migrations

TABLE = "ads_write_ad"
SEARCHED = {"ad_external_ref_trgm": "external_ref::text", "ad_id_trgm": "(id)::text::text"}


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in SEARCHED.items():
        schema_editor.execute(f"CREATE INDEX {name} ON {TABLE} USING gin ((UPPER({expression})) gin_trgm_ops)")
    # The retailer-name branch of the same search (kernel's table, the admin's query).
    schema_editor.execute(
        "CREATE INDEX retailer_name_trgm ON kernel_retailer USING gin ((UPPER(name::text)) gin_trgm_ops)"
    )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in [*SEARCHED, "retailer_name_trgm"]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("ads_write", "0010_review_claims"), ("kernel", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
