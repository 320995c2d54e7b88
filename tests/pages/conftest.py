"""Records for the page tests, built as the lab makes them: lots, a NaCrO2 and a Sn sheet,
electrodes punched from them, cells, runs and datasets."""
import itertools

import pytest

_serial = itertools.count(1)


@pytest.fixture
def lab(project, people):
    """Builders of records in the project, each made by the writer."""
    from cells.models import Cell, CellPart, CyclingRun, Dataset, RawDataFile
    from samples.models import (Electrode, ElectrodeSheet, LoadingDisc, Material, PrecursorLot, SheetComponent,
                                StockMovement)

    writer = people["writer"]

    class Lab:
        def lot(self, material="Na2B12H12", quantity_mg=5000.0, in_project=None, **extra):
            extra.setdefault("supplier", "Katchem")
            return PrecursorLot.objects.create(
                project=in_project or project, material=Material.objects.get(name=material),
                quantity_received_mg=quantity_mg, created_by=writer, modified_by=writer, **extra)

        def take(self, lot, mass_mg, used_for="", kind=StockMovement.Kind.USE):
            return StockMovement.objects.create(lot=lot, mass_mg=mass_mg, used_for=used_for, kind=kind,
                                                created_by=writer)

        def sheet(self, active="NaCrO2", fractions=(95, 2, 3), disc_masses_mg=(9.0, 9.1, 8.9, 9.0)):
            sheet = ElectrodeSheet.objects.create(project=project, name=f"{active} {fractions}",
                                                  current_collector_areal_mass_mg_cm2=0.0, created_by=writer)
            for role, material, fraction in zip(("active", "binder", "conductive_carbon"),
                                                (active, "PVDF", "Super P"), fractions):
                SheetComponent.objects.create(sheet=sheet, lot=self.lot(material), role=role,
                                              mass_fraction_percent=fraction)
            for mass in disc_masses_mg:
                LoadingDisc.objects.create(sheet=sheet, diameter_mm=12.0, mass_mg=mass)
            return sheet

        def electrode(self, sheet, mass_mg):
            return Electrode.objects.create(project=project, sheet=sheet, diameter_mm=12.0, mass_mg=mass_mg,
                                            created_by=writer)

        def cell(self, positive=None, negative=None, kind=Cell.Kind.CATHODE_HALF, in_project=None, **extra):
            cell = Cell.objects.create(project=in_project or project, kind=kind, created_by=writer,
                                       modified_by=writer, **extra)
            if positive is not None:
                CellPart.objects.create(cell=cell, role="positive", electrode=positive)
            if negative is not None:
                CellPart.objects.create(cell=cell, role="negative", electrode=negative)
            else:
                CellPart.objects.create(cell=cell, role="negative", description="Na-Sn alloy", mass_mg=40)
            return cell

        def half_cell(self, **extra):
            return self.cell(positive=self.electrode(self.sheet(), 8.40), **extra)

        def run(self, cell, state=CyclingRun.State.RUNNING):
            return CyclingRun.objects.create(project=cell.project, cell=cell, state=state, created_by=writer)

        def dataset(self, run, state=Dataset.State.DONE, message=""):
            n = next(_serial)
            raw = RawDataFile.objects.create(run=run, file=f"raw/{run.human_id}/{n}.csv", original_name=f"cell-{n}.csv",
                                             sha256=f"{n:064x}", size_bytes=100, uploaded_by=writer)
            return Dataset.objects.create(project=run.project, run=run, raw_file=raw, source_name=raw.original_name,
                                          state=state, message=message)

    return Lab()


@pytest.fixture
def logged_in(client):
    """logged_in(user) -> the test client with that user's session."""
    def as_user(user):
        client.force_login(user)
        return client
    return as_user
