"""Every GET endpoint of the API issues a number of queries that does not depend on the number
of rows: the same at 10 and at 1,000 records (and, for a detail, at 10 and 1,000 child rows of
the record), and the number pinned in tests/query_counts.json.

A changed count fails with the old and the new number. When the change is intended (a field
that needs one more query, a query saved), rewrite the file and commit it with the change:

    ELN_UPDATE_QUERY_COUNTS=1 ./scripts/test tests/api/test_api_query_counts.py

Each endpoint's data is one record made through its factory and bulk copies of it
(tests/bulk.py); lists are read whole (``limit=1000``), so every row is serialized.
"""
from __future__ import annotations

import collections
import json
import os
import pathlib
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.routers import APIRootView

from analysis.models import CellMetrics, FadePrediction, FadePredictionCycle
from cells import models as cm
from samples import models as sm
from tests import factories as f
from tests.bulk import copies, more_rows

pytestmark = pytest.mark.django_db

COUNTS_FILE = pathlib.Path(__file__).parent.parent / "query_counts.json"
UPDATE = os.environ.get("ELN_UPDATE_QUERY_COUNTS") == "1"
SIZES = (10, 1000)
API = "/api/v1/"
WHOLE = "?limit=10000"


class Endpoints(dict):
    """What a builder made: endpoint → (path, {field of the answer: number of rows it must hold})."""

    def add(self, endpoint: str, path: str, **rows: int):
        self[endpoint] = (path, rows)
        return self


def _project(user):
    return f.ProjectFactory(manager=user)


def _lots(project, name: str, n: int) -> list:
    """n lots of a material: one received through the service, the others copies of it."""
    seed = f.lot(project, name)
    return [seed, *copies(seed, n - 1)]


def _unique(field: str, prefix: str = ""):
    def vary(row, i):
        setattr(row, field, f"{prefix}{i}")
    return vary


# --- builders: (n, user) -> Endpoints ------------------------------------------------------


def build_projects(n, user):
    seed = _project(user)
    copies(seed, n - 1, vary=_unique("name", "copy "), children={"memberships": None})
    users = copies(f.UserFactory(), n, vary=_unique("username", "member"))
    more_rows(seed, "memberships", n, vary=lambda row, i: setattr(row, "user_id", users[i].pk))
    return (Endpoints().add("projects/", f"{API}projects/{WHOLE}", results=n)
            .add("projects/{id}/", f"{API}projects/{seed.pk}/", members=n))


def build_materials(n, user):
    seed = f.MaterialFactory(user=user, kind=sm.Material.Kind.CATHODE_ACTIVE, density_g_cm3=4.4,
                             molar_mass_g_mol=106.98, electrons_per_formula_unit=0.5,
                             reference_specific_capacity_mah_g=120.0)
    copies(seed, n - 1, vary=_unique("name", "material "))
    total = sm.Material.objects.count()
    return (Endpoints().add("materials/", f"{API}materials/{WHOLE}", results=total)
            .add("materials/{id}/", f"{API}materials/{seed.pk}/"))


def build_cyclers(n, user):
    seed = f.CyclerFactory(user=user)
    copies(seed, n - 1, vary=_unique("name", "cycler "), children={"channels": None})
    more_rows(seed, "channels", n, vary=_unique("number", "C"))
    return (Endpoints().add("cyclers/", f"{API}cyclers/{WHOLE}", results=n)
            .add("cyclers/{id}/", f"{API}cyclers/{seed.pk}/", channels=n))


def build_channels(n, user):
    seed = f.ChannelFactory(user=user, cycler=f.CyclerFactory(user=user, channels=[]))
    copies(seed, n - 1, vary=_unique("number", "C"))
    return (Endpoints().add("channels/", f"{API}channels/{WHOLE}", results=n)
            .add("channels/{id}/", f"{API}channels/{seed.pk}/"))


def build_lots(n, user):
    project = _project(user)
    made_from = _lots(project, "Cr2O3", n)
    seed = f.LotFactory(user=user, project=project, material=f.material("NaCrO2"),
                        treatments=[{"description": "drying", "temperature_c": 180, "duration_h": 6}],
                        inputs=[{"lot": made_from[0], "mass_mg": 10.0}])
    copies(seed, n - 1, children={"treatments": None, "inputs": None})
    more_rows(seed, "treatments", n)
    more_rows(seed, "inputs", n, vary=lambda row, i: setattr(row, "lot_id", made_from[i].pk))
    count = sm.PrecursorLot.objects.filter(project=project).count()
    return (Endpoints().add("lots/", f"{API}lots/{WHOLE}", results=count)
            .add("lots/{id}/", f"{API}lots/{seed.human_id}/", treatments=n, inputs=n))


def build_stock_movements(n, user):
    project = _project(user)
    salt = f.lot(project, "Na2B12H12")
    f.StockCorrectionFactory(user=user, holder=salt)
    f.ElectrolyteBatchFactory(user=user, project=project, inputs=[{"lot": salt, "mass_mg": 100.0}], solvent_lot=None,
                              solvent_volume_ml=None, pellet_mass_mg=50.0)
    f.StockCorrectionFactory(user=user, holder=f.InfiltrationSolutionFactory(user=user, project=project, inputs=[
        {"lot": salt, "mass_mg": 100.0}]), quantity=1.0)
    f.StockCorrectionFactory(user=user, holder=f.AlloyBatchFactory(user=user, project=project))
    lines = list(sm.StockMovement.objects.order_by("pk"))
    assert {next(name for name in sm.HOLDER_FIELDS if getattr(line, f"{name}_id")) for line in lines} == set(
        sm.HOLDER_FIELDS)  # lines of every kind of holder
    for i in range(n - len(lines)):
        copies(lines[i % len(lines)], 1)
    return (Endpoints().add("stock-movements/", f"{API}stock-movements/{WHOLE}", results=n)
            .add("stock-movements/{id}/", f"{API}stock-movements/{lines[0].pk}/"))


def build_electrolyte_batches(n, user):
    project = _project(user)
    precursors = _lots(project, "Na2B12H12", n)
    seed = f.ElectrolyteBatchFactory(user=user, project=project, pellet_mass_mg=50.0, conductivity_measurements=[
        {"temperature_c": t, "pellet_thickness_mm": 1.0, "pellet_area_cm2": 0.785, "resistance_ohm": r}
        for t, r in ((25, 120.0), (60, 40.0))])
    copies(seed, n - 1, children={"inputs": None, "steps": None, "conductivity_measurements": None})
    more_rows(seed, "inputs", n, vary=lambda row, i: setattr(row, "lot_id", precursors[i].pk))
    more_rows(seed, "steps", n, vary=lambda row, i: setattr(row, "order", i + 1))
    more_rows(seed, "conductivity_measurements", n)
    return (Endpoints().add("electrolyte-batches/", f"{API}electrolyte-batches/{WHOLE}", results=n)
            .add("electrolyte-batches/{id}/", f"{API}electrolyte-batches/{seed.human_id}/",
                 inputs=n, steps=n, conductivity_measurements=n))


def build_infiltration_solutions(n, user):
    project = _project(user)
    salts = _lots(project, "Na2B12H12", n)
    seed = f.InfiltrationSolutionFactory(user=user, project=project)
    copies(seed, n - 1, children={"inputs": None})
    more_rows(seed, "inputs", n, vary=lambda row, i: setattr(row, "lot_id", salts[i].pk))
    return (Endpoints().add("infiltration-solutions/", f"{API}infiltration-solutions/{WHOLE}", results=n)
            .add("infiltration-solutions/{id}/", f"{API}infiltration-solutions/{seed.human_id}/", inputs=n))


def build_alloy_batches(n, user):
    project = _project(user)
    metals = _lots(project, "Na", n)
    seed = f.AlloyBatchFactory(user=user, project=project)
    copies(seed, n - 1, children={"inputs": None})
    more_rows(seed, "inputs", n, vary=lambda row, i: setattr(row, "lot_id", metals[i].pk))
    return (Endpoints().add("alloy-batches/", f"{API}alloy-batches/{WHOLE}", results=n)
            .add("alloy-batches/{id}/", f"{API}alloy-batches/{seed.human_id}/", inputs=n))


def build_electrode_sheets(n, user):
    project = _project(user)
    carbons = _lots(project, "Super P", n)
    seed = f.ElectrodeSheetFactory(user=user, project=project, slurry_solvent_lot=f.lot(project, "NMP", 100_000),
                                   slurry_solvent_volume_ml=2.0)
    copies(seed, n - 1, children={"components": None, "loading_discs": None})
    more_rows(seed, "components", n, vary=lambda row, i: setattr(row, "lot_id", carbons[i].pk))
    more_rows(seed, "loading_discs", n)
    return (Endpoints().add("electrode-sheets/", f"{API}electrode-sheets/{WHOLE}", results=n)
            .add("electrode-sheets/{id}/", f"{API}electrode-sheets/{seed.human_id}/", components=n,
                 loading_discs=n))


def build_electrodes(n, user):
    project = _project(user)
    seed = f.ElectrodeFactory(user=user, project=project)
    tin = f.ElectrodeSheetFactory(user=user, project=project, tin=True)
    copies(seed, n - 1, vary=lambda row, i: setattr(row, "sheet_id", tin.pk) if i % 2 else None)
    return (Endpoints().add("electrodes/", f"{API}electrodes/{WHOLE}", results=n)
            .add("electrodes/{id}/", f"{API}electrodes/{seed.human_id}/"))


def build_infiltration_runs(n, user):
    project = _project(user)
    seed = f.InfiltrationRunFactory(user=user, project=project)
    electrode = seed.electrodes.get().electrode
    dipped = copies(electrode, n)
    copies(seed, n - 1, children={"drying_steps": None, "electrodes": None})
    more_rows(seed, "drying_steps", n, vary=lambda row, i: setattr(row, "order", i + 1))
    more_rows(seed, "electrodes", n, vary=lambda row, i: setattr(row, "electrode_id", dipped[i].pk))
    return (Endpoints().add("infiltration-runs/", f"{API}infiltration-runs/{WHOLE}", results=n)
            .add("infiltration-runs/{id}/", f"{API}infiltration-runs/{seed.human_id}/", drying_steps=n,
                 electrodes=n))


def build_protocols(n, user):
    project = _project(user)
    seed = f.ProtocolFactory(user=user, project=project)
    copies(seed, n - 1, children={"steps": None})
    more_rows(seed, "steps", n, vary=lambda row, i: setattr(row, "order", i + 1))
    return (Endpoints().add("protocols/", f"{API}protocols/{WHOLE}", results=n)
            .add("protocols/{id}/", f"{API}protocols/{seed.human_id}/", steps=n))


def cell_copies(seed: cm.Cell, n: int) -> list:
    """Copies of a cell with its parts; each copy's cast electrodes are copies too (an electrode
    is in one cell)."""
    electrodes = {part.role: copies(part.electrode, n) for part in seed.parts.all() if part.electrode_id}

    def own_electrode(part, i):
        if part.electrode_id:
            part.electrode_id = electrodes[part.role][i].pk

    return copies(seed, n, children={"parts": own_electrode})


def build_cells(n, user):
    project = _project(user)
    full = f.CellFactory(user=user, project=project, full=True)
    half = f.CellFactory(user=user, project=project)  # with an alloy counter electrode
    cell_copies(full, n // 2 - 1)
    cell_copies(half, n - n // 2 - 1)
    return (Endpoints().add("cells/", f"{API}cells/{WHOLE}", results=n)
            .add("cells/{id}/", f"{API}cells/{full.human_id}/", parts=2))


def build_cycling_runs(n, user):
    project = _project(user)
    seed = f.CyclingRunFactory(user=user, project=project)
    copies(seed, n - 1)
    return (Endpoints().add("cycling-runs/", f"{API}cycling-runs/{WHOLE}", results=n)
            .add("cycling-runs/{id}/", f"{API}cycling-runs/{seed.human_id}/"))


def build_raw_files(n, user):
    project = _project(user)
    seed = f.RawFileFactory(run=f.CyclingRunFactory(user=user, project=project), user=user)
    copies(seed, n - 1, vary=lambda row, i: setattr(row, "sha256", f"{i:064x}"))
    return (Endpoints().add("raw-files/", f"{API}raw-files/{WHOLE}", results=n)
            .add("raw-files/{id}/", f"{API}raw-files/{seed.pk}/")
            .add("raw-files/{id}/download/", f"{API}raw-files/{seed.pk}/download/"))


def build_datasets(n, user):
    project = _project(user)
    seed = f.DatasetFactory(run=f.CyclingRunFactory(user=user, project=project), user=user, ingested=True)
    copies(seed, n - 1, vary=_unique("source_name", "copy"))
    more_rows(seed, "cycles", n, vary=lambda row, i: setattr(row, "cycle_number", i + 1))
    one = f"{API}datasets/{seed.human_id}/"
    return (Endpoints().add("datasets/", f"{API}datasets/{WHOLE}", results=n)
            .add("datasets/{id}/", one)
            .add("datasets/{id}/cycles/", f"{one}cycles/", results=n)
            .add("datasets/{id}/status/", f"{one}status/", stages=4)
            .add("datasets/{id}/data/", f"{one}data/?points=100")
            .add("datasets/{id}/plots/voltage/", f"{one}plots/voltage/?points=100")
            .add("datasets/{id}/plots/voltage-capacity/", f"{one}plots/voltage-capacity/?points=100")
            .add("datasets/{id}/plots/capacity/", f"{one}plots/capacity/?points=100")
            .add("datasets/{id}/plots/rate/", f"{one}plots/rate/?points=100")
            .add("datasets/{id}/plots/dqdv/", f"{one}plots/dqdv/?points=100"))


def build_spectrum(n, user):
    """An impedance dataset whose file holds n sweeps of the shared PEIS spectrum."""
    from tests.paths import shared_bytes

    project = _project(user)
    dataset = f.DatasetFactory(run=f.CyclingRunFactory(user=user, project=project), user=user, name="peis.mpr",
                               content=shared_bytes("biologic_mpr/peis.mpr"), ingested=True)
    spectrum = dataset.file_metadata["impedance"]
    points = len(spectrum["freq_hz"])
    dataset.file_metadata["impedance"] = {
        **{name: values * n for name, values in spectrum.items() if name != "sweep"},
        "sweep": [k // points + 1 for k in range(points * n)]}
    cm.Dataset.objects.filter(pk=dataset.pk).update(file_metadata=dataset.file_metadata)
    return Endpoints().add("datasets/{id}/spectrum/", f"{API}datasets/{dataset.human_id}/spectrum/", sweeps=n)


def build_cell_cycles(n, user):
    """A cell's history of n cycles."""
    project = _project(user)
    dataset = f.DatasetFactory(run=f.CyclingRunFactory(user=user, project=project), user=user, ingested=True)
    more_rows(dataset, "cycles", n, vary=lambda row, i: (setattr(row, "cycle_number", i + 1),
                                                          setattr(row, "history_cycle_number", i + 1)))
    cell = dataset.run.cell
    return Endpoints().add("cells/{id}/cycles/", f"{API}cells/{cell.human_id}/cycles/", results=n)


def build_cell_metrics(n, user):
    project = _project(user)
    dataset = f.DatasetFactory(run=f.CyclingRunFactory(user=user, project=project), user=user, ingested=True)
    cell = dataset.run.cell
    metrics = CellMetrics.objects.get(cell=cell)
    others = copies(cell, n - 1)
    copies(metrics, n - 1, vary=lambda row, i: setattr(row, "cell_id", others[i].pk))
    return Endpoints().add("cells/{id}/metrics/", f"{API}cells/{cell.human_id}/metrics/")


def build_lineage(n, user):
    project = _project(user)
    made_from = _lots(project, "Cr2O3", n)
    seed = f.LotFactory(user=user, project=project, material=f.material("NaCrO2"),
                        inputs=[{"lot": made_from[0], "mass_mg": 10.0}])
    more_rows(seed, "inputs", n, vary=lambda row, i: setattr(row, "lot_id", made_from[i].pk))
    sheet = f.ElectrodeSheetFactory(user=user, project=project, components=[
        {"lot": seed, "role": "active", "mass_fraction_percent": 95},
        *f.sheet_components(project)[1:]])
    copies(f.ElectrodeFactory(user=user, project=project, sheet=sheet), n - 1)
    return Endpoints().add("lineage/{id}/", f"{API}lineage/{seed.human_id}/", upstream=n, downstream=n + 1)


def build_three_electrode(n, user):
    project = _project(user)
    dataset = f.three_electrode_dataset(project=project, user=user)
    cell = dataset.run.cell
    for name in ("electrode_cycles", "electrode_ranges", "electrode_fits", "degradation_modes"):
        more_rows(dataset, name, n, vary=lambda row, i: setattr(row, "cycle_number", 100 + i))
    full = f.CellFactory(user=user, project=project, full=True, separator_batch=cell.separator_batch)
    cell_copies(full, n - 1)  # linked through the electrolyte batch
    prediction = FadePrediction.objects.get(cell=cell)
    FadePredictionCycle.objects.create(prediction=prediction, cycle_number=1)
    more_rows(prediction, "cycles", n, vary=lambda row, i: setattr(row, "cycle_number", i + 1))
    one = f"{API}datasets/{dataset.human_id}/"
    return (Endpoints().add("datasets/{id}/electrodes/", f"{one}electrodes/", results=n)
            .add("datasets/{id}/electrodes/ranges/", f"{one}electrodes/ranges/", results=n)
            .add("datasets/{id}/degradation-modes/", f"{one}degradation-modes/", results=n)
            .add("datasets/{id}/electrodes/curves/", f"{one}electrodes/curves/?cycles=1&points=50")
            .add("cells/{id}/diagnosis/", f"{API}cells/{cell.human_id}/diagnosis/", linked_full_cells=n)
            .add("cells/{id}/fade-prediction/", f"{API}cells/{cell.human_id}/fade-prediction/", results=n))


def build_notebook_entries(n, user):
    project = _project(user)
    cell = f.CellFactory(user=user, project=project)
    seed = f.NotebookEntryFactory(user=user, project=project, body=f"**{cell.human_id}** pressed; see LOT-0001")
    f.NotebookAttachmentFactory(user=user, entry=seed, name="press.txt")
    copies(seed, n - 1, children={"mentions": None, "attachments": None})
    more_rows(seed, "mentions", n, vary=_unique("label", "LOT-"))
    more_rows(seed, "attachments", n, vary=_unique("original_name", "log-"))
    copies(seed.history.get(), n - 1, vary=lambda row, i: setattr(row, "title", f"version {i}"))
    one = f"{API}notebook-entries/{seed.human_id}/"
    return (Endpoints().add("notebook-entries/", f"{API}notebook-entries/{WHOLE}", results=n)
            .add("notebook-entries/{id}/", one, mentions=n, attachments=n)
            .add("notebook-entries/{id}/history/", f"{one}history/", history=n + 1))  # and the attachment


def build_alerts(n, user):
    import datetime as dt

    project = _project(user)
    seed = f.AlertFactory(project=project)
    copies(seed, n - 1, vary=lambda row, i: setattr(row, "last_data_at", seed.last_data_at - dt.timedelta(hours=i + 1)))
    return (Endpoints().add("alerts/", f"{API}alerts/{WHOLE}", results=n)
            .add("alerts/{id}/", f"{API}alerts/{seed.pk}/"))


def build_api_tokens(n, user):
    from eln.security.services import api_token_issue

    seed, _key = api_token_issue(user=user, label="script")
    copies(seed, n - 1, vary=lambda row, i: setattr(row, "key_hash", f"{i:064x}"))
    return Endpoints().add("auth/tokens/", f"{API}auth/tokens/{WHOLE}", results=n)


BUILDERS = {
    "projects": build_projects, "materials": build_materials, "cyclers": build_cyclers,
    "channels": build_channels, "lots": build_lots, "stock-movements": build_stock_movements,
    "electrolyte-batches": build_electrolyte_batches, "infiltration-solutions": build_infiltration_solutions,
    "alloy-batches": build_alloy_batches, "electrode-sheets": build_electrode_sheets,
    "electrodes": build_electrodes, "infiltration-runs": build_infiltration_runs, "protocols": build_protocols,
    "cells": build_cells, "cycling-runs": build_cycling_runs, "raw-files": build_raw_files,
    "datasets": build_datasets, "cells/{id}/metrics": build_cell_metrics, "lineage": build_lineage,
    "datasets/{id}/spectrum": build_spectrum, "cells/{id}/cycles": build_cell_cycles,
    **{endpoint.rstrip("/"): build_three_electrode for endpoint in (
        "datasets/{id}/electrodes/", "datasets/{id}/electrodes/ranges/", "datasets/{id}/degradation-modes/",
        "datasets/{id}/electrodes/curves/", "cells/{id}/diagnosis/", "cells/{id}/fade-prediction/")},
    "notebook-entries": build_notebook_entries, "alerts": build_alerts, "auth/tokens": build_api_tokens,
}


def builder_of(endpoint: str):
    return BUILDERS.get(endpoint.rstrip("/")) or BUILDERS[endpoint.split("/")[0]]


# The endpoints and the builder that makes their rows.
ENDPOINTS = [
    "projects/", "projects/{id}/", "materials/", "materials/{id}/", "cyclers/", "cyclers/{id}/",
    "channels/", "channels/{id}/", "lots/", "lots/{id}/", "stock-movements/", "stock-movements/{id}/",
    "electrolyte-batches/", "electrolyte-batches/{id}/", "infiltration-solutions/",
    "infiltration-solutions/{id}/", "alloy-batches/", "alloy-batches/{id}/", "electrode-sheets/",
    "electrode-sheets/{id}/", "electrodes/", "electrodes/{id}/", "infiltration-runs/", "infiltration-runs/{id}/",
    "protocols/", "protocols/{id}/", "cells/", "cells/{id}/", "cells/{id}/metrics/", "cycling-runs/",
    "cycling-runs/{id}/", "raw-files/", "raw-files/{id}/", "raw-files/{id}/download/", "datasets/",
    "datasets/{id}/", "datasets/{id}/cycles/", "datasets/{id}/status/", "datasets/{id}/data/",
    "datasets/{id}/spectrum/", "cells/{id}/cycles/", "lineage/{id}/",
    "datasets/{id}/plots/voltage/", "datasets/{id}/plots/voltage-capacity/", "datasets/{id}/plots/capacity/",
    "datasets/{id}/plots/rate/", "datasets/{id}/plots/dqdv/",
    "datasets/{id}/electrodes/", "datasets/{id}/electrodes/ranges/", "datasets/{id}/electrodes/curves/",
    "datasets/{id}/degradation-modes/", "cells/{id}/diagnosis/", "cells/{id}/fade-prediction/",
    "notebook-entries/", "notebook-entries/{id}/", "notebook-entries/{id}/history/", "alerts/", "alerts/{id}/",
    "auth/tokens/",
]


def key(endpoint: str) -> str:
    return f"GET {API}{endpoint}"


# --- the pinned counts --------------------------------------------------------------------


def most_repeated(queries: list[str]) -> str:
    """The query a list makes once per row, with the ids taken out."""
    shapes = collections.Counter(re.sub(r"\b\d+\b", "N", sql) for sql in queries)
    shape, times = shapes.most_common(1)[0]
    return f"Issued {times} times: {shape}"


class PinnedCounts:
    def __init__(self):
        self.pinned = json.loads(COUNTS_FILE.read_text()) if COUNTS_FILE.exists() else {}
        self.measured: dict[str, dict[int, int]] = {}

    def check(self, endpoint: str, rows: int, count: int, queries: list[str]) -> None:
        name = key(endpoint)
        measured = self.measured.setdefault(name, {})
        measured[rows] = count
        if len(set(measured.values())) > 1:
            sizes = ", ".join(f"{q} queries at {r} rows" for r, q in sorted(measured.items()))
            pytest.fail(f"{name} grows with the rows: {sizes}.\n{most_repeated(queries)}")
        if UPDATE:
            return
        if name not in self.pinned:
            pytest.fail(f"{name} ({count} queries at {rows} rows) is not in {COUNTS_FILE.name}; "
                        "run with ELN_UPDATE_QUERY_COUNTS=1 to pin it.")
        if count != self.pinned[name]:
            listing = "\n".join(queries) if len(queries) <= 50 else most_repeated(queries)
            pytest.fail(f"{name} at {rows} rows: {count} queries, {COUNTS_FILE.name} pins {self.pinned[name]}. "
                        f"If the change is intended, rewrite the file with ELN_UPDATE_QUERY_COUNTS=1.\n{listing}")

    def write(self) -> None:
        counts = dict(self.pinned)
        counts.update({name: next(iter(by_rows.values())) for name, by_rows in self.measured.items()
                       if len(set(by_rows.values())) == 1})
        known = {key(endpoint) for endpoint in ENDPOINTS}
        counts = {name: counts[name] for name in sorted(counts) if name in known}
        COUNTS_FILE.write_text(json.dumps(counts, indent=2, ensure_ascii=False) + "\n")


@pytest.fixture(scope="session")
def pinned_counts():
    counts = PinnedCounts()
    yield counts
    if UPDATE and counts.measured:
        counts.write()


def count_queries(client, path: str):
    # A first request fills the per-process caches (content types, ...), so that the count does
    # not depend on which test ran before; one row is enough for that.
    client.get(path.replace(WHOLE, "?limit=1"))
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    return response, [query["sql"] for query in captured.captured_queries]


@pytest.mark.parametrize("rows", SIZES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_queries_do_not_grow_with_the_rows(api, pinned_counts, endpoint, rows):
    user = f.UserFactory()
    path, expected_rows = builder_of(endpoint)(rows, user)[endpoint]
    response, queries = count_queries(api(user), path)
    assert response.status_code == 200, response.content[:500]
    if expected_rows:  # the answer holds every row made, so the count is measured over them
        body = response.json()
        assert {name: len(body[name]) for name in expected_rows} == expected_rows
    pinned_counts.check(endpoint, rows, len(queries), queries)


def test_every_get_endpoint_of_the_api_is_pinned():
    """A new endpoint (or action) comes with its builder here and its count in the file."""
    from eln.api.urls import router, urlpatterns

    found = set()
    for prefix, viewset, _basename in router.registry:
        found.add(f"{prefix}/")
        found.add(f"{prefix}/{{id}}/")
        for action in viewset.get_extra_actions():
            if "get" in action.mapping and action.detail:
                found.add(f"{prefix}/{{id}}/{action.url_path}/")
    for pattern in urlpatterns:
        if getattr(pattern.callback, "actions", None) is not None:
            continue  # the router's, above
        view = getattr(pattern.callback, "view_class", None)
        if view is APIRootView or not hasattr(view, "get"):
            continue
        found.add(re.sub(r"<[^>]+>", "{id}", str(pattern.pattern)))
    assert found == set(ENDPOINTS)
    if not UPDATE:  # (when updating, the file is written at the end of the run)
        assert set(json.loads(COUNTS_FILE.read_text())) == {key(endpoint) for endpoint in ENDPOINTS}
