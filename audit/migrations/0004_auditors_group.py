"""The "Auditors" group of compliance staff: view-only over ads, verdicts, findings, audit
entries, dead letters and retailers, plus deciding the ads held for review."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Auditors"
PERMISSIONS = [
    ("ads_write", "view_ad"),
    ("ads_write", "view_heldad"),
    ("ads_write", "decide_ad"),
    ("ads_write", "view_verdict"),
    ("ads_write", "view_finding"),
    ("audit", "view_auditentry"),
    ("kernel", "view_deadletter"),
    ("kernel", "view_retailer"),
]


def create_group(apps, schema_editor):
    # Permissions are normally made after the last migration (post_migrate); make them now.
    for app_config in apps.get_app_configs():
        models_module, app_config.models_module = getattr(app_config, "models_module", None), True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.set(
        [Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in PERMISSIONS]
    )


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_append_only_triggers"),
        ("ads_write", "0002_admin_indexes_and_review_queue"),
        ("kernel", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
