"""Joins the two lines of audit migrations (the keyed chain, 0006_key_id; the staff roles,
0006-0007) and gives Operators the key permissions that came with the key lifecycle
(kernel/0002): revoking API keys and deactivating retailers."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {"Operators": [("kernel", "revoke_apikey"), ("kernel", "deactivate_retailer")]}


def grant(apps, schema_editor):
    kernel = apps.get_app_config("kernel")
    models_module, kernel.models_module = getattr(kernel, "models_module", None), True
    create_permissions(kernel, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    kernel.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, permissions in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *[Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in permissions]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_key_id"),
        ("audit", "0007_appeal_permissions"),
        ("kernel", "0002_api_key_lifecycle"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
