"""An appeal is superseded when its ad is judged again before a reviewer decided it: a third
status, ten characters long. Widening a varchar changes only the catalog in PostgreSQL (no
table rewrite, no lock beyond a moment's)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("ads_write", "0018_fingerprint_content_hash_distinct")]

    operations = [
        migrations.AlterField(
            model_name="appeal",
            name="status",
            field=models.CharField(
                choices=[("open", "Open"), ("decided", "Decided"), ("superseded", "Superseded")],
                default="open",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="appeal",
            name="decided_at",
            field=models.DateTimeField(blank=True, help_text="When it was decided, or superseded.", null=True),
        ),
        migrations.AlterField(
            model_name="appeal",
            name="decided_version",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="The ad version the decision made, or the new verdict that superseded it.",
                null=True,
            ),
        ),
    ]
