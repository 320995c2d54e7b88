from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self):
        from analysis import services, signals  # noqa: F401 - dataset deletes; recompute on changes
