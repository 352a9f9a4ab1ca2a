"""Three roles of compliance staff as groups (audit/roles.py): Reviewers decide, Auditors
read everything and export but decide nothing (they lose `decide_ad`, which 0004 gave them:
separation of duties), Operators run dead letters, retailers and API keys."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW_ADS = [
    ("ads_write", "view_ad"),
    ("ads_write", "view_heldad"),
    ("ads_write", "view_verdict"),
    ("ads_write", "view_finding"),
]
ROLES = {
    "Reviewers": [
        *VIEW_ADS,
        ("ads_write", "decide_ad"),
        ("ads_write", "export_ad"),
        ("audit", "view_auditentry"),
        ("kernel", "view_retailer"),
    ],
    "Auditors": [
        *VIEW_ADS,
        ("ads_write", "export_ad"),
        ("audit", "view_auditentry"),
        ("kernel", "view_retailer"),
        ("kernel", "view_apikey"),
        ("kernel", "view_deadletter"),
        ("notifications", "view_webhookendpoint"),
        ("notifications", "view_webhookdelivery"),
        ("notifications", "view_reportdelivery"),
        ("auth", "view_user"),
        ("auth", "view_group"),
    ],
    "Operators": [
        ("kernel", "view_retailer"),
        ("kernel", "change_retailer"),
        ("kernel", "view_apikey"),
        ("kernel", "change_apikey"),
        ("kernel", "view_deadletter"),
        ("kernel", "change_deadletter"),
        ("notifications", "view_webhookendpoint"),
        ("notifications", "view_webhookdelivery"),
        ("notifications", "view_reportdelivery"),
    ],
}


def create_roles(apps, schema_editor, roles=ROLES):
    # Permissions are normally made after the last migration (post_migrate); make them now.
    for app_config in apps.get_app_configs():
        models_module, app_config.models_module = getattr(app_config, "models_module", None), True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, permissions in roles.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            [Permission.objects.get(content_type__app_label=app, codename=codename) for app, codename in permissions]
        )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Reviewers", "Operators"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_chains"),
        ("audit", "0004_auditors_group"),
        ("ads_write", "0009_ad_permissions"),
        ("kernel", "0001_initial"),
        ("notifications", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
