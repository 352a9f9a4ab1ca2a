from django.db import migrations, models


def withdrawn_from_the_audit_log(apps, schema_editor):
    # Ads withdrawn before the column: their `ad.withdrawn` entry names the status they left.
    Ad = apps.get_model("ads_write", "Ad")
    AuditEntry = apps.get_model("audit", "AuditEntry")
    entries = AuditEntry.objects.filter(action="ad.withdrawn").values_list("ad_id", "data").iterator(chunk_size=2000)
    for ad_id, data in entries:
        Ad.objects.filter(id=ad_id, status="withdrawn").update(withdrawn_from=(data or {}).get("previous_status", ""))


class Migration(migrations.Migration):
    dependencies = [
        ("ads_write", "0016_ad_command_at"),
        ("audit", "0008_operators_revoke_keys"),
    ]

    operations = [
        migrations.AddField(
            model_name="ad",
            name="withdrawn_from",
            field=models.CharField(
                blank=True, db_default="", default="", help_text="The status the ad was withdrawn from.", max_length=16
            ),
        ),
        migrations.RunPython(withdrawn_from_the_audit_log, migrations.RunPython.noop),
    ]
