from django.apps import AppConfig


class CellsConfig(AppConfig):
    name = "cells"
    verbose_name = "Cells and cycling"

    def ready(self):
        from cells import services  # noqa: F401 - registers how each record type is written
