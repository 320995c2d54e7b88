"""What is computed.

The modules at this level that do not start with a Django name (models, admin, api, tasks,
services, apps, migrations, views) are the pure core: they import neither Django nor Celery,
work on numbers, arrays and Arrow tables, and carry their units in their names.
"""
