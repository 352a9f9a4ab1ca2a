import json
import subprocess
import sys

from adplatform.routers import ReadReplicaRouter
from ads_read.models import AdView
from ads_write.models import Ad
from audit.models import AuditEntry
from tests.conftest import ROOT, worker_env


def test_read_side_reads_go_to_the_replica_when_one_is_configured(monkeypatch):
    from django.conf import settings

    router = ReadReplicaRouter()
    assert router.db_for_read(AdView) is None  # no replica: Django's default
    monkeypatch.setitem(settings.DATABASES, "replica", settings.DATABASES["default"])
    # (Whether the replica is fit to read is kernel/replica.py's: tests/replica, on a real one.)
    monkeypatch.setattr("adplatform.routers.replica_usable", lambda: True)
    assert router.db_for_read(AdView) == "replica"
    monkeypatch.setattr("adplatform.routers.replica_usable", lambda: False)
    assert router.db_for_read(AdView) == "default"
    assert router.db_for_read(Ad) is None and router.db_for_read(AuditEntry) is None  # the write side reads its own
    assert router.db_for_write(AdView) == "default"
    assert router.allow_migrate("replica", "ads_read") is False


def test_read_database_url_adds_the_replica_alias_that_tests_mirror_onto_default():
    show = "from django.conf import settings; import json; print(json.dumps(settings.DATABASES))"
    env = worker_env(READ_DATABASE_URL="postgres://reader@replica.internal:5433/adplatform")
    done = subprocess.run([sys.executable, "-c", show], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    databases = json.loads(done.stdout)
    assert (databases["replica"]["HOST"], databases["replica"]["PORT"], databases["replica"]["USER"]) == (
        "replica.internal",
        5433,
        "reader",
    )
    assert databases["replica"]["TEST"] == {"MIRROR": "default"}
    done = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=60
    )
    assert "replica" not in json.loads(done.stdout)
