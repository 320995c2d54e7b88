"""Seed the paper's materials (the list lives in samples/seed.py)."""
from django.db import migrations

from samples.seed import MATERIALS, seed_materials


def seed(apps, schema_editor):
    seed_materials(apps.get_model("samples", "Material"))


def unseed(apps, schema_editor):
    apps.get_model("samples", "Material").objects.filter(name__in=[m[0] for m in MATERIALS]).delete()


class Migration(migrations.Migration):
    dependencies = [("samples", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
