from django.apps import AppConfig


class KernelConfig(AppConfig):
    name = "adplatform.kernel"
    label = "kernel"
    verbose_name = "Retailers"

    def ready(self):
        from adplatform import openapi  # noqa: F401  registers the API-key scheme with drf-spectacular
