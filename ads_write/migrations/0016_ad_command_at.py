from django.db import migrations, models

from adplatform.migration_operations import AddIndexWithoutLocking


class Migration(migrations.Migration):
    atomic = False  # the index is built CONCURRENTLY on PostgreSQL, which a transaction cannot hold

    dependencies = [
        ("ads_write", "0015_ad_commands"),
    ]

    operations = [
        migrations.AddField(
            model_name="ad",
            name="command_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the retailer's last command (change, pause, resume, withdraw, appeal) was stored.",
                null=True,
            ),
        ),
        AddIndexWithoutLocking(
            model_name="ad",
            index=models.Index(
                condition=models.Q(("command_at__isnull", False)), fields=["command_at"], name="ad_command"
            ),
        ),
    ]
