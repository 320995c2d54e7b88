"""manage.py load_demo_lab: fill an empty database with the lab of the closo-borate paper."""
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from eln.models import Project
from analysis.demo import lab as demo


class Command(BaseCommand):
    help = (
        "Fill the database with the demo lab of the closo-borate infiltration paper (lots, electrolyte "
        "batch, electrode sheets, infiltration runs, cells and cycling runs) and a demo superuser. "
        "Does nothing if the demo project already exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="demo", help="the demo superuser (default: demo)")
        parser.add_argument("--password", default="demo", help="its password (default: demo)")
        parser.add_argument("--without-cycling-data", action="store_true",
                            help="do not upload the synthetic cycling files of the paper's cells")

    def handle(self, *args, username, password, without_cycling_data=False, **options):
        try:
            records = demo.load_demo_lab(username=username, password=password)
        except demo.DemoLabError as error:
            raise CommandError(str(error)) from error
        datasets = []
        if records and not without_cycling_data:
            from analysis.demo.cycling import load_demo_cycling_data

            # Uploaded like a cycler's files; ingested in process, or by the workers when a
            # broker is configured.
            with transaction.atomic():
                datasets = load_demo_cycling_data(records)
        if not records:
            project = Project.objects.get(name=demo.PROJECT_NAME)
            self.stdout.write(f'The demo project "{project.name}" already exists; nothing was loaded.')
            managers = project.memberships.filter(role="manager").select_related("user")
            for membership in managers:
                self.stdout.write(f"  manager: {membership.user.username}")
            self.stdout.write("  API tokens are shown once, when made: make a new one with "
                              "POST /api/v1/auth/token/ or on the page API tokens")
            self.stdout.write(f"  pages: {demo.SITE_URL}  admin: {demo.ADMIN_URL}")
            return

        self.stdout.write(self.style.SUCCESS(f'Loaded the demo project "{records["project"].name}":'))
        for label, key in (
            ("precursor lots", "lots"), ("electrolyte batch inputs", "electrolyte_inputs"),
            ("conductivity measurements", "conductivity_measurements"), ("electrode sheets", "sheets"),
            ("loading discs", "loading_discs"), ("electrodes", "electrodes"),
            ("infiltration runs", "infiltration_runs"), ("infiltrated electrodes", "infiltrated"),
            ("protocols", "protocols"), ("cells", "cells"), ("cycling runs", "runs"),
        ):
            self.stdout.write(f"  {len(records[key]):3d} {label}")
        self.stdout.write(f"  {len(datasets):3d} cycling datasets (synthetic, shaped like the paper's cells)")
        user, token_key = records["user"], records["token_key"]
        self.stdout.write("")
        self.stdout.write(f"Log in at {demo.SITE_URL} (the lab manager's admin: {demo.ADMIN_URL})")
        if records["user_created"]:
            self.stdout.write(f"  username: {user.username}")
            self.stdout.write(f"  password: {password}")
            if password == "demo":
                self.stdout.write(self.style.WARNING(
                    "  (the default demo password: use --password on anything others can reach)"))
        else:
            self.stdout.write(f"  username: {user.username} (an existing account: its password and rights "
                              "were left unchanged)")
        self.stdout.write(f"API token of {user.username} (shown this once): {token_key}")
        self.stdout.write(f'  e.g. curl -H "Authorization: Token {token_key}" http://127.0.0.1:8000/api/v1/')
