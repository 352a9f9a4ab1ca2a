"""The database itself refuses to change or remove audit entries.

PostgreSQL: statement-level triggers refuse UPDATE, DELETE and TRUNCATE for every role but
a superuser who sets `session_replication_role = replica` (the test suite's flush does; the
application's roles are not superusers) and the table's owner, who may disable or drop them:
the application should not run as the role that owns the tables. SQLite (the embedded development default): row
triggers refuse UPDATE and DELETE; it has no TRUNCATE.

SQLite drops a table's triggers when a migration rebuilds the table (most AlterField and
RemoveField operations do): such a migration of AuditEntry must run this one's SQL again.
"""

from django.db import migrations

TABLE = "audit_auditentry"

POSTGRESQL_INSTALL = [
    """
    CREATE FUNCTION audit_entry_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit entries are append-only: % on %.% refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$
    """,
    f"""
    CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_refuse_change()
    """,
    f"""
    CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_refuse_change()
    """,
]
POSTGRESQL_REMOVE = [
    f"DROP TRIGGER IF EXISTS audit_entry_no_truncate ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_entry_append_only ON {TABLE}",
    "DROP FUNCTION IF EXISTS audit_entry_refuse_change()",
]
SQLITE_INSTALL = [
    f"""
    CREATE TRIGGER IF NOT EXISTS audit_entry_no_{operation.lower()} BEFORE {operation} ON {TABLE}
    BEGIN
        SELECT RAISE(ABORT, 'audit entries are append-only: {operation} on {TABLE} refused');
    END
    """
    for operation in ("UPDATE", "DELETE")
]
SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS audit_entry_no_{operation}" for operation in ("update", "delete")]

INSTALL = {"postgresql": POSTGRESQL_INSTALL, "sqlite": SQLITE_INSTALL}
REMOVE = {"postgresql": POSTGRESQL_REMOVE, "sqlite": SQLITE_REMOVE}


def _execute(schema_editor, statements: dict) -> None:
    for sql in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql, params=None)  # no parameters: the % in the SQL are literal


def install(apps, schema_editor):
    _execute(schema_editor, INSTALL)


def remove(apps, schema_editor):
    _execute(schema_editor, REMOVE)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_admin_indexes")]

    operations = [migrations.RunPython(install, remove)]
