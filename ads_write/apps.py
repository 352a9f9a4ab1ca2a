from django.apps import AppConfig


class AdsWriteConfig(AppConfig):
    name = "ads_write"
    verbose_name = "Ads (command side)"

    def ready(self):
        from . import checks  # noqa: F401  registers the command side's settings checks
