"""The number of queries a page makes does not grow with the number of rows it shows."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def test_the_lot_list_makes_as_many_queries_for_60_lots_as_for_3(logged_in, people, lab):
    client = logged_in(people["reader"])
    for _ in range(3):
        lab.correct(lab.lot("Na2B12H12"), 10.0)
    few = queries(client, "/lots/?low_stock=false&search=katchem")
    for _ in range(57):
        lab.correct(lab.lot("Na2B10H10"), 10.0)
    assert queries(client, "/lots/?low_stock=false&search=katchem") == few
    assert few <= 8


def test_a_lots_page_makes_as_many_queries_for_40_ledger_lines_as_for_2(logged_in, people, lab):
    client = logged_in(people["reader"])
    lot = lab.lot("Na2B12H12", 786000.0)
    lab.batch_from((lot, 533.6))
    lab.correct(lot, 15.7)
    few = queries(client, f"/lots/{lot.human_id}/")
    for _ in range(4):
        lab.batch_from((lot, 533.6))
    for _ in range(34):
        lab.correct(lot, 15.7)
    assert queries(client, f"/lots/{lot.human_id}/") == few


def test_the_cell_list_makes_as_many_queries_for_15_cells_as_for_2(logged_in, people, lab):
    client = logged_in(people["reader"])

    for _ in range(2):
        lab.full_cell()
    few = queries(client, "/cells/?kind=full")
    for _ in range(13):
        lab.full_cell()
    assert queries(client, "/cells/?kind=full") == few
    assert few <= 15


def test_a_cells_page_makes_as_many_queries_for_8_runs_as_for_1(logged_in, people, lab):
    client = logged_in(people["reader"])
    cell = lab.full_cell()
    lab.failed_dataset(lab.run(cell))
    few = queries(client, f"/cells/{cell.human_id}/")
    for _ in range(7):
        run = lab.run(cell)
        lab.failed_dataset(run, "first.csv")
        lab.failed_dataset(run, "second.csv")
    assert queries(client, f"/cells/{cell.human_id}/") == few


def test_the_dashboard_makes_as_many_queries_for_many_records_as_for_few(logged_in, people, lab):
    client = logged_in(people["reader"])
    lab.failed_dataset(lab.run(lab.half_cell()))
    lab.lot("Na2B10H10", 100, low_stock_threshold_mg=1000)
    few = queries(client, "/")
    for _ in range(12):
        lab.failed_dataset(lab.run(lab.half_cell()))
        lab.lot("Na2B10H10", 100, low_stock_threshold_mg=1000)
    assert queries(client, "/") == few


# -- the other record types' lists and pages -----------------------------------------------------

def grows_not(client, url, add, times=6) -> int:
    """Queries of ``url`` with one ``add()`` and after ``times`` more: asserted equal (the first
    makes the page's shape, e.g. a lineage one level deeper; the rest only add rows)."""
    add()
    few = queries(client, url)
    for _ in range(times):
        add()
    assert queries(client, url) == few, url
    return few


@pytest.fixture
def maker(lab, project, people):
    from tests import factories

    writer = people["writer"]

    class Maker:
        def sheet(self):
            return factories.ElectrodeSheetFactory(project=project, user=writer)

        def electrode(self, sheet=None):
            return factories.ElectrodeFactory(project=project, user=writer, **({"sheet": sheet} if sheet else {}))

        def infiltration(self, solution=None, electrodes=1):
            rows = [{"electrode": self.electrode(), "mass_before_mg": 12.91, "mass_after_mg": 14.25,
                     "pressed_thickness_um": 40.0, "pressed_mass_mg": 14.2} for _ in range(electrodes)]
            extra = {"solution": solution} if solution else {}
            return factories.InfiltrationRunFactory(project=project, user=writer, electrodes=rows,
                                                    solution_volume_ml=0.1, **extra)

        def batch(self, **extra):
            return factories.ElectrolyteBatchFactory(project=project, user=writer, **extra)

        def protocol(self):
            return factories.ProtocolFactory(project=project, user=writer)

        def alloy(self):
            return factories.AlloyBatchFactory(project=project, user=writer)

    return Maker()


LIST_BUILDERS = {
    "/materials/": lambda m, lab: lab.lot("NaCrO2"),
    "/electrolyte-batches/": lambda m, lab: m.batch(conductivity_measurements=[
        {"temperature_c": 25, "pellet_thickness_mm": 0.5, "pellet_area_cm2": 1.131, "resistance_ohm": 44.2}]),
    "/infiltration-solutions/": lambda m, lab: lab.solution_from((lab.lot("Na2B12H12"), 500.0)),
    "/electrode-sheets/": lambda m, lab: m.electrode(m.sheet()),
    "/electrodes/": lambda m, lab: lab.half_cell(),
    "/infiltration-runs/": lambda m, lab: m.infiltration(electrodes=2),
    "/alloy-batches/": lambda m, lab: m.alloy(),
    "/protocols/": lambda m, lab: lab.run(lab.half_cell()),
    "/cycling-runs/": lambda m, lab: lab.failed_dataset(lab.run(lab.half_cell())),
    "/datasets/": lambda m, lab: lab.failed_dataset(lab.run(lab.half_cell())),
    "/cyclers/": lambda m, lab: lab.run(lab.half_cell()),
}


@pytest.mark.parametrize("url", list(LIST_BUILDERS))
def test_every_list_makes_as_many_queries_for_many_records_as_for_one(logged_in, people, lab, maker, url):
    client = logged_in(people["reader"])
    build = LIST_BUILDERS[url]
    few = grows_not(client, url, lambda: build(maker, lab), times=5)
    assert few <= 16, url


def test_the_cell_list_makes_as_many_queries_for_10000_cells_as_for_2(logged_in, people, lab, project):
    """10,000 cells written in bulk (each with a part), beside two built through the services."""
    from cells.models import Cell, CellPart

    client = logged_in(people["reader"])
    lab.full_cell()
    lab.half_cell()
    url = "/cells/?ordering=-stack_pressure_mpa&search=cell"
    few = queries(client, url)
    cells = Cell.objects.bulk_create(
        Cell(project=project, human_id=f"CELL-{100000 + i}", name=f"bulk cell {i}", kind=Cell.Kind.CATHODE_HALF,
             stack_pressure_mpa=1 + i % 60) for i in range(10_000))  # listed after the two at 70 MPa
    CellPart.objects.bulk_create(CellPart(cell=cell, role="negative", description="Na metal foil") for cell in cells)
    assert Cell.objects.count() == 10_002
    html = client.get(url).content.decode()
    assert "10002 records, page 1 of 201" in html
    assert queries(client, url) == few
    assert queries(client, "/cells/?page=150") <= few  # any page, however deep


def to_1000_cycles(dataset) -> None:
    """Copies of the dataset's last cycle (and of its steps) after it, up to 1,000 cycles."""
    from analysis.models import CycleStep, CycleSummary

    last = CycleSummary.objects.filter(dataset=dataset).order_by("-cycle_number").first()
    template = {f.attname: getattr(last, f.attname) for f in CycleSummary._meta.concrete_fields if not f.primary_key}
    CycleSummary.objects.bulk_create(CycleSummary(**{**template, "cycle_number": last.cycle_number + n})
                                     for n in range(1, 1000))
    steps = list(CycleStep.objects.filter(dataset=dataset, cycle_number=last.cycle_number))
    top = CycleStep.objects.filter(dataset=dataset).order_by("-step_number").first().step_number
    CycleStep.objects.bulk_create(
        CycleStep(**{**{f.attname: getattr(step, f.attname) for f in CycleStep._meta.concrete_fields
                        if not f.primary_key},
                     "cycle_number": last.cycle_number + n, "step_number": top + n * len(steps) + k})
        for n in range(1, 1000) for k, step in enumerate(steps))
    assert CycleSummary.objects.filter(dataset=dataset).count() >= 1000


def test_a_datasets_page_makes_as_many_queries_for_1000_cycles_as_for_a_few(logged_in, people, lab):
    client = logged_in(people["reader"])
    dataset = lab.good_dataset(lab.run(lab.half_cell()))
    url = f"/datasets/{dataset.human_id}/"
    processing = f"/datasets/{dataset.human_id}/processing/"  # the fragment the pages ask for again
    few, few_processing = queries(client, url), queries(client, processing)
    to_1000_cycles(dataset)
    assert queries(client, url) == few
    assert queries(client, processing) == few_processing <= 8


PLOTS = ("voltage", "voltage-capacity", "capacity", "rate", "dqdv")


def test_a_cells_page_and_its_plots_make_as_many_queries_for_a_1000_cycle_dataset_as_for_a_few(
        logged_in, people, lab):
    client = logged_in(people["reader"])
    cell = lab.half_cell()
    dataset = lab.good_dataset(lab.run(cell))
    pages = [f"/cells/{cell.human_id}/", f"/datasets/{dataset.human_id}/",
             *(f"/api/v1/datasets/{dataset.human_id}/plots/{name}/" for name in PLOTS)]
    few = {url: queries(client, url) for url in pages}
    to_1000_cycles(dataset)
    assert {url: queries(client, url) for url in pages} == few
    capacity = client.get(pages[-3]).json()["series"][0]  # over 1,000 cycles, at most 1,000 points
    assert capacity["rows"] >= 1000 >= capacity["points"] > 300
    assert len(client.get(pages[-3], {"points": 100}).json()["series"][0]["x"]) <= 100


def test_every_records_page_makes_as_many_queries_for_many_rows_as_for_few(logged_in, people, lab, maker):
    from tests import factories

    client = logged_in(people["reader"])
    writer = people["writer"]
    project = lab.half_cell().project
    batch = maker.batch(pellet_mass_mg=10.0)
    grows_not(client, f"/electrolyte-batches/{batch.human_id}/", lambda: (
        lab.half_cell(separator_batch=batch, separator_mass_mg=5.0), lab.correct(batch, 1.0)))
    solution = lab.solution_from((lab.lot("Na2B12H12"), 500.0))
    grows_not(client, f"/infiltration-solutions/{solution.human_id}/", lambda: maker.infiltration(solution))
    sheet = maker.sheet()
    grows_not(client, f"/electrode-sheets/{sheet.human_id}/", lambda: maker.electrode(sheet))
    electrode = maker.electrode()
    grows_not(client, f"/electrodes/{electrode.human_id}/", lambda: factories.InfiltrationRunFactory(
        project=project, user=writer, solution=solution, solution_volume_ml=0.1,
        electrodes=[{"electrode": electrode, "mass_before_mg": 12.91, "mass_after_mg": 14.25}]))
    run = maker.infiltration(electrodes=1)
    few = queries(client, f"/infiltration-runs/{run.human_id}/")
    many = maker.infiltration(electrodes=8)
    assert queries(client, f"/infiltration-runs/{many.human_id}/") == few
    alloy = maker.alloy()
    grows_not(client, f"/alloy-batches/{alloy.human_id}/", lambda: lab.half_cell(parts=[
        {"role": "positive", "electrode": maker.electrode()},
        {"role": "negative", "alloy_batch": alloy, "mass_mg": 10.0}]))
    protocol = maker.protocol()
    grows_not(client, f"/protocols/{protocol.human_id}/", lambda: lab.run(lab.half_cell(), protocol=protocol))
    cycling = lab.run(lab.half_cell())
    grows_not(client, f"/cycling-runs/{cycling.human_id}/", lambda: lab.failed_dataset(
        cycling, f"file-{cycling.datasets.count()}.csv"))
    grows_not(client, "/materials/Na2B12H12/", lambda: lab.lot("Na2B12H12"))
    cycler = cycling.channel.cycler
    grows_not(client, f"/cyclers/{cycler.name}/", lambda: lab.run(lab.half_cell(), channel=factories.ChannelFactory(
        cycler=cycler)))


def test_a_forms_options_are_read_once_whatever_the_stock(logged_in, people, lab):
    client = logged_in(people["writer"])
    lab.lot("Na2B12H12")
    lab.lot("Isopropanol")
    for url in ("/infiltration-solutions/new/", "/electrolyte-batches/new/", "/cells/new/", "/infiltration-runs/new/"):
        grows_not(client, url, lambda: (lab.lot("Na2B12H12"), lab.lot("Isopropanol"), lab.half_cell()), times=3)
