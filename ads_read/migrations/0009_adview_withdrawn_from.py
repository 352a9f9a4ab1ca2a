from django.db import migrations, models


def withdrawn_from_the_write_side(apps, schema_editor):
    # Rows projected before the column; from now on only the projection writes it.
    Ad = apps.get_model("ads_write", "Ad")
    AdView = apps.get_model("ads_read", "AdView")
    withdrawn = Ad.objects.filter(status="withdrawn").exclude(withdrawn_from="").values_list("id", "withdrawn_from")
    for ad_id, withdrawn_from in withdrawn.iterator(chunk_size=2000):
        AdView.objects.filter(id=ad_id).update(withdrawn_from=withdrawn_from)


class Migration(migrations.Migration):
    dependencies = [
        ("ads_read", "0008_adview_document"),
        ("ads_write", "0017_ad_withdrawn_from"),
    ]

    operations = [
        migrations.AddField(
            model_name="adview",
            name="withdrawn_from",
            field=models.CharField(blank=True, db_default="", default="", max_length=16),
        ),
        migrations.RunPython(withdrawn_from_the_write_side, migrations.RunPython.noop),
    ]
