from django.apps import AppConfig


class AdsReadConfig(AppConfig):
    name = "ads_read"
    verbose_name = "Ads (read side)"
