"""The appeals queue for the roles: Reviewers and Auditors see appeals (Reviewers decide
them with `decide_ad`, as held ads)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {"Reviewers": [("ads_write", "view_appeal")], "Auditors": [("ads_write", "view_appeal")]}


def grant(apps, schema_editor):
    ads_write = apps.get_app_config("ads_write")
    models_module, ads_write.models_module = getattr(ads_write, "models_module", None), True
    create_permissions(ads_write, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    ads_write.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, permissions in GRANTS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *[Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in permissions]
        )


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_staff_roles"), ("ads_write", "0014_appeals")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
