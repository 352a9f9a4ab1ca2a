# The read row shows everything the retailer submitted (the field registry, ads_write/fields.py).
# Rows projected before this read '' until `manage.py rebuild_read_model` reprojects them.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ads_read", "0005_adview_appeal"),
    ]

    operations = [
        migrations.AddField(
            model_name="adview",
            name="disclosure",
            field=models.CharField(blank=True, default="", max_length=500),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="adview",
            name="advertiser_license",
            field=models.CharField(blank=True, default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="adview",
            name="paid_for_by",
            field=models.CharField(blank=True, default="", max_length=200),
            preserve_default=False,
        ),
    ]
