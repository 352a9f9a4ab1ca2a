"""Migrations that don't lock the busy tables: a new index on one of them is built
CONCURRENTLY (`AddIndexConcurrently`, in a migration with `atomic = False`), never with a
plain CREATE INDEX, which blocks every write to the table while it builds (minutes on a table
of hundreds of millions of rows). docs/deploy.md says how to write such changes."""

import re

import pytest
from django.apps import apps
from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models
from django.db.migrations.loader import MigrationLoader

# The tables that grow with every ad (bench/CAPACITY.md, D1/D2) or every webhook.
BIG_MODELS = (
    "ads_write.Ad",
    "ads_write.Verdict",
    "ads_write.Finding",
    "ads_write.OutboxMessage",
    "ads_write.ContentFingerprint",
    "ads_write.IdempotencyKey",
    "ads_read.AdView",
    "audit.AuditEntry",
    "notifications.WebhookDelivery",
)
# Applied everywhere before this check existed (their indexes were built on small tables).
GRANDFATHERED = {
    "ads_write": "0008",
    "ads_read": "0004",
    "audit": "0005",
    "notifications": "0001",
    "kernel": "0001",
}
_PLAIN_CREATE_INDEX = re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY)", re.IGNORECASE)
_BLOCKING_DROP_INDEX = re.compile(r"\bDROP\s+INDEX\b(?!\s+CONCURRENTLY)", re.IGNORECASE)


def _big_tables() -> set[str]:
    return {apps.get_model(label)._meta.db_table for label in BIG_MODELS}


def _table(app_label: str, model_name: str) -> str | None:
    try:
        return apps.get_model(app_label, model_name)._meta.db_table
    except LookupError:  # a model this very migration creates: a new, empty table
        return None


def _indexed(field) -> bool:
    return bool(getattr(field, "db_index", False) or (getattr(field, "unique", False) and not field.primary_key))


def blocking_index_operations(migration) -> list[str]:
    """What in `migration` builds or drops an index on a big table while locking it."""
    big = _big_tables()
    found = []
    for op in migration.operations:
        table = _table(migration.app_label, op.model_name) if hasattr(op, "model_name") else None
        name = f"{migration.app_label}.{migration.name}: {type(op).__name__}"
        if isinstance(op, AddIndexConcurrently | RemoveIndexConcurrently):
            if migration.atomic:
                found.append(f"{name} needs `atomic = False` on the migration")
            continue
        if table not in big and not isinstance(op, migrations.RunSQL):
            continue
        if isinstance(op, migrations.AddIndex | migrations.RemoveIndex | migrations.RenameIndex):
            found.append(f"{name} on {table}: use AddIndexConcurrently / RemoveIndexConcurrently")
        elif isinstance(op, migrations.AddConstraint) and isinstance(op.constraint, models.UniqueConstraint):
            found.append(f"{name} on {table}: build the unique index concurrently first, then add the constraint")
        elif isinstance(op, migrations.AddField | migrations.AlterField) and _indexed(op.field):
            found.append(
                f"{name} {op.name} on {table}: an indexed field; add it with db_index=False, then the index concurrently"
            )
        elif isinstance(op, migrations.AlterUniqueTogether | migrations.AlterIndexTogether):
            found.append(f"{name} on {table}: use AddIndexConcurrently")
        elif isinstance(op, migrations.RunSQL):
            sql = " ".join(str(part) for part in (op.sql if isinstance(op.sql, list | tuple) else [op.sql]))
            if any(t in sql for t in big) and (_PLAIN_CREATE_INDEX.search(sql) or _BLOCKING_DROP_INDEX.search(sql)):
                found.append(f"{name}: a plain CREATE/DROP INDEX on a big table; use CONCURRENTLY (atomic = False)")
    return found


def test_no_migration_builds_a_blocking_index_on_a_big_table():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    found = []
    for (app_label, name), migration in loader.disk_migrations.items():
        if app_label in GRANDFATHERED and name[:4] <= GRANDFATHERED[app_label]:
            continue
        found += blocking_index_operations(migration)
    assert not found, "\n".join(found)


def _migration(*operations, atomic=True):
    migration = migrations.Migration("0099_example", "ads_read")
    migration.operations = list(operations)
    migration.atomic = atomic
    return migration


@pytest.mark.parametrize(
    "operation",
    [
        migrations.AddIndex("adview", models.Index(fields=["headline"], name="adview_headline_idx")),
        migrations.RemoveIndex("adview", "adview_headline_idx"),
        migrations.AddField("adview", "campaign", models.CharField(max_length=20, db_index=True, default="")),
        migrations.AlterField("adview", "headline", models.CharField(max_length=200, unique=True)),
        migrations.AddConstraint("adview", models.UniqueConstraint(fields=["headline"], name="adview_headline_uniq")),
        migrations.RunSQL("CREATE INDEX adview_x ON ads_read_adview (headline)"),
    ],
)
def test_the_check_catches_a_blocking_index_on_a_big_table(operation):
    assert blocking_index_operations(_migration(operation))


def test_the_check_lets_concurrent_builds_and_small_tables_through():
    concurrent = AddIndexConcurrently("adview", models.Index(fields=["headline"], name="adview_headline_idx"))
    assert blocking_index_operations(_migration(concurrent, atomic=False)) == []
    assert blocking_index_operations(_migration(concurrent)) != []  # (Django refuses it inside a transaction)
    assert (
        blocking_index_operations(
            _migration(migrations.RunSQL("CREATE INDEX CONCURRENTLY x ON ads_read_adview (headline)"))
        )
        == []
    )
    small = migrations.AddIndex("retailerdailystats", models.Index(fields=["day"], name="stats_day_idx"))
    assert blocking_index_operations(_migration(small)) == []


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    # A model change without its migration (even a help_text) leaves `migrate` warning on every
    # deploy, and the next migration someone generates picks it up unseen.
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
