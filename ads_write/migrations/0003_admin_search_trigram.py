"""Trigram indexes for the compliance admin's substring search of headline and landing URL
(PostgreSQL only; SQLite, the development default, scans).

Django's `icontains` on PostgreSQL is `UPPER(col::text) LIKE UPPER('%term%')`, so the
indexes are on that very expression. pg_trgm is a trusted extension: a database owner
without superuser may create it.
"""

from django.db import migrations

TABLE = "ads_write_ad"
SEARCHED = {"ad_headline_trgm": "headline", "ad_landing_url_trgm": "landing_url"}


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in SEARCHED.items():
        schema_editor.execute(f"CREATE INDEX {name} ON {TABLE} USING gin ((UPPER({column}::text)) gin_trgm_ops)")


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in SEARCHED:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("ads_write", "0002_admin_indexes_and_review_queue")]

    operations = [migrations.RunPython(install, remove)]
