from django.apps import AppConfig


class ElnConfig(AppConfig):
    name = "eln"
    verbose_name = "Lab notebook core"

    def ready(self):
        # Load the Celery app with Django so tasks are sent with the configured broker.
        from eln import celery  # noqa: F401
        from eln.security import backends  # noqa: F401  (counts failed logins)
