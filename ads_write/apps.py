from django.apps import AppConfig


class AdsWriteConfig(AppConfig):
    name = "ads_write"
    verbose_name = "Ads (command side)"
