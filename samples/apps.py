from django.apps import AppConfig


class SamplesConfig(AppConfig):
    name = "samples"
    verbose_name = "Samples and inventory"

    def ready(self):
        from samples import signals  # noqa: F401 - deleted process rows give their stock back
