from adplatform.routers import ReadReplicaRouter
from ads_read.models import AdView
from ads_write.models import Ad
from audit.models import AuditEntry


def test_read_side_reads_go_to_the_replica_when_one_is_configured(monkeypatch):
    from django.conf import settings

    router = ReadReplicaRouter()
    assert router.db_for_read(AdView) is None  # no replica: Django's default
    monkeypatch.setitem(settings.DATABASES, "replica", settings.DATABASES["default"])
    assert router.db_for_read(AdView) == "replica"
    assert router.db_for_read(Ad) is None and router.db_for_read(AuditEntry) is None  # the write side reads its own
    assert router.db_for_write(AdView) == "default"
    assert router.allow_migrate("replica", "ads_read") is False
