from django.apps import AppConfig


class SamplesConfig(AppConfig):
    name = "samples"
    verbose_name = "Samples and inventory"

    def ready(self):
        from samples import services  # noqa: F401 - registers how each record type is written
