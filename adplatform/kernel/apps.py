from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class KernelConfig(AppConfig):
    name = "adplatform.kernel"
    label = "kernel"
    verbose_name = "Retailers"

    def ready(self):
        from adplatform import (
            checks,  # noqa: F401  registers the settings' system checks
            openapi,  # noqa: F401  registers the API-key scheme with drf-spectacular
        )

        from . import lookups  # noqa: F401  registers field__any

        data_folders_make()


def data_folders_make() -> None:
    """The folders the embedded default writes to, made at start-up rather than when the
    settings are read: the SQLite database's and, with EMBEDDED_REDIS=false, the folder
    broker's (kombu's folder transport expects them to exist)."""
    folders = [
        Path(database["NAME"]).parent
        for database in settings.DATABASES.values()
        if database["ENGINE"] == "django.db.backends.sqlite3" and str(database["NAME"]) != ":memory:"
    ]
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    folders += [Path(options[key]) for key in ("data_folder_in", "data_folder_out", "control_folder") if key in options]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
