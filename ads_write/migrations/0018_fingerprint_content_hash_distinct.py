"""FRAUD.DUPLICATE_CONTENT's question probes the fingerprint table once per ad, with the ad's own
hash, retailer and time as parameters. PostgreSQL prices such a probe from the statistics'
distinct count of content_hash against a fixed 0.5 % of the table for the time window (it cannot
know that the window covers nearly all the retained rows). Once the table is analysed, few
distinct contents (templated ads, test data) and rows stored in time order make the time index
look cheaper: each probe then walks the whole window, 4,000 buffers per probe at 200,000 rows.

The probe costs one index descent whatever the repetition of its content (it stops at the first
other retailer's row, its own retailer's rows lie outside both ranges), so the planner is told
each content is as rare as that: n_distinct = -1 (as many contents as rows). ANALYZE applies it;
it runs here too so that a table analysed before this migration is replanned now."""

from django.db import migrations

TABLE = "ads_write_contentfingerprint"


def plan_per_content(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN content_hash SET (n_distinct = -1)")
    schema_editor.execute(f"ANALYZE {TABLE}")


def plan_from_the_sample(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN content_hash RESET (n_distinct)")
    schema_editor.execute(f"ANALYZE {TABLE}")


class Migration(migrations.Migration):
    dependencies = [("ads_write", "0017_ad_withdrawn_from")]

    operations = [migrations.RunPython(plan_per_content, plan_from_the_sample)]
