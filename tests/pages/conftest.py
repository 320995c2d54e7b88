"""Records for the page tests, made through the services as the lab makes them (tests/factories.py):
lots and what took from them, sheets, electrodes, cells, runs, and cycler files uploaded and
ingested."""
import pytest

from tests import factories
from tests.paths import shared_bytes

GOOD_FILE = "biologic_mpt/gcpl.issue_149.mpt"


@pytest.fixture
def lab(project, people, django_capture_on_commit_callbacks):
    """Builders of records in the project, each made by the writer."""
    from django.core.files.base import ContentFile

    from analysis.services import raw_file_receive
    from samples import services

    writer = people["writer"]

    class Lab:
        def lot(self, material="Na2B12H12", quantity_mg=5000.0, in_project=None, **extra):
            return factories.LotFactory(project=in_project or project, material=factories.material(material),
                                        quantity_received_mg=quantity_mg, user=writer, **extra)

        def batch_from(self, *uses):
            """An electrolyte batch taking (lot, mg) from each of ``uses``: ledger lines used for it."""
            return factories.ElectrolyteBatchFactory(
                project=project, user=writer, inputs=[{"lot": lot, "mass_mg": mg} for lot, mg in uses])

        def solution_from(self, *uses):
            return factories.InfiltrationSolutionFactory(
                project=project, user=writer, inputs=[{"lot": lot, "mass_mg": mg} for lot, mg in uses])

        def correct(self, holder, quantity, kind="correction", note=""):
            return services.stock_correct(user=writer, holder=holder, quantity=quantity, kind=kind, note=note)

        def half_cell(self, **extra):
            return factories.CellFactory(project=project, user=writer, **extra)

        def full_cell(self, **extra):
            return factories.CellFactory(project=project, user=writer, full=True, **extra)

        def unweighed_cell(self, **extra):
            """A half cell whose positive electrode was not weighed, punched from a sheet whose
            loading discs are not weighed yet: nothing gives its active mass."""
            sheet = factories.ElectrodeSheetFactory(project=project, user=writer, loading_discs=[])
            electrode = factories.ElectrodeFactory(project=project, user=writer, sheet=sheet, mass_mg=None)
            return factories.CellFactory(project=project, user=writer, parts=[
                {"role": "positive", "electrode": electrode}, {"role": "negative", "description": "Na metal foil"}],
                **extra)

        def run(self, cell, **extra):
            return factories.CyclingRunFactory(project=cell.project, cell=cell, user=writer, **extra)

        def upload(self, run, name, content: bytes):
            """A cycler file sent for the run and ingested (in process, on commit)."""
            with django_capture_on_commit_callbacks(execute=True):
                received = raw_file_receive(run=run, uploaded=as_upload(name, content), user=writer)
            received.dataset.refresh_from_db()
            return received.dataset

        def good_dataset(self, run):
            return self.upload(run, "gcpl.mpt", shared_bytes(GOOD_FILE))

        def failed_dataset(self, run, name="broken.csv"):
            return self.upload(run, name, f"{name} is not a cycler file\n".encode())

    def as_upload(name, content):
        import hashlib

        upload = ContentFile(content, name=name)
        upload.sha256 = hashlib.sha256(content).hexdigest()
        return upload

    return Lab()


@pytest.fixture
def logged_in(client):
    """logged_in(user) -> the test client with that user's session."""
    def as_user(user):
        client.force_login(user)
        return client
    return as_user
