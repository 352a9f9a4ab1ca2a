from django.apps import AppConfig


class KernelConfig(AppConfig):
    name = "adplatform.kernel"
    label = "kernel"
    verbose_name = "Retailers"
