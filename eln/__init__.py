"""Project package and shared core. Kept free of imports so that the cycler client
(``eln.harvester``) runs on a cycler PC with the standard library alone; the Celery app is
loaded by ``ElnConfig.ready``."""
