from django.apps import AppConfig


class ElnConfig(AppConfig):
    name = "eln"
    verbose_name = "Lab notebook core"
