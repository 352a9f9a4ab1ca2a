from django.conf import settings

from adplatform.kernel.replica import replica_usable

READ_SIDE_APPS = {"ads_read"}


class ReadReplicaRouter:
    """Reads of the read-side tables go to the replica alias when one is configured and fit
    to read (not down, not lagging past READ_REPLICA_MAX_LAG: kernel/replica.py), else to the
    primary; every write goes to the primary."""

    def db_for_read(self, model, **hints):
        if model._meta.app_label in READ_SIDE_APPS and "replica" in settings.DATABASES:
            return "replica" if replica_usable() else "default"
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, **hints):
        return db == "default"
