"""The foreign keys of ads to retailers and of verdicts to ads lose their own indexes: a
composite index leads with each (ad_retailer_submitted, verdict_one_per_ad_version) and serves
every lookup by it, so each was one more index entry to write per ad and verdict for nothing.

Only the indexes are dropped: AlterField would also drop and re-add each foreign key, whose
validation scans the whole table under a lock that holds off every write meanwhile."""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "ads_write_ad_retailer_id_e3d63972": ('"ads_write_ad"', '"retailer_id"'),
    "ads_write_verdict_ad_id_779f726b": ('"ads_write_verdict"', '"ad_id"'),
}


class Migration(migrations.Migration):
    dependencies = [
        ("ads_write", "0019_appeal_superseded"),
        ("kernel", "0002_api_key_lifecycle"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{name}" ON {table} ({column})',
                )
                for name, (table, column) in INDEXES.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="ad",
                    name="retailer",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ads",
                        to="kernel.retailer",
                    ),
                ),
                migrations.AlterField(
                    model_name="verdict",
                    name="ad",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="verdicts",
                        to="ads_write.ad",
                    ),
                ),
            ],
        )
    ]
