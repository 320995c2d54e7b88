"""The compare page: cells chosen with the cell list's filters, the suspect ones left out unless
asked for, their curves as JSON, the variables that differ and the ranking at a stated cycle."""
import dataclasses
import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis.core import synthetic
from analysis.services import cell_parameters
from tests import factories

pytestmark = pytest.mark.django_db

# Retention at cycle 3 (against cycle 1, all at 0.1C) of the cells at 70 and 3 MPa.
RETENTION = {70.0: (0.985, 0.975), 3.0: (0.895, 0.875)}
# grand mean 0.9325; SS_total = 0.0525² + 0.0425² + 0.0375² + 0.0575² = 0.009275;
# SS_between = 4 × 0.0475² = 0.009025 → η² = 0.97305
ETA_SQUARED = 0.009025 / 0.009275


def cycling_file(cell, retention: float, first_mah_g: float = 118.0) -> bytes:
    """Three cycles at 0.1C whose discharge falls to ``retention`` of the first, CE 99 %."""
    spec = dataclasses.replace(synthetic.nacro2_half_cell(), active_mass_mg=cell_parameters(cell).active_mass_mg)
    discharges = [first_mah_g, first_mah_g * (1 + retention) / 2, first_mah_g * retention]
    targets = [synthetic.CycleTarget(0.1, q / 0.99, q, 3.05, 2.955) for q in discharges]
    return synthetic.to_bdf_csv(synthetic.generate(spec, targets, sample_interval_s=math.inf,
                                                   min_points_per_step=20).table)


@pytest.fixture
def pressure_cells(project, people, lab):
    """Two cells at 70 MPa and two at 3 MPa from one sheet, one separator batch and one alloy batch,
    and a fifth at 70 MPa whose first discharge (100 mAh/g) fails the ±5 % loading check."""
    writer = people["writer"]
    sheet = factories.ElectrodeSheetFactory(project=project, user=writer)
    batch = factories.ElectrolyteBatchFactory(project=project, user=writer)
    alloy = factories.AlloyBatchFactory(project=project, user=writer)
    protocol = factories.ProtocolFactory(project=project, user=writer)

    def cell(pressure, retention, first_mah_g=118.0):
        made = lab.half_cell(stack_pressure_mpa=pressure, separator_batch=batch, parts=[
            {"role": "positive", "electrode": factories.ElectrodeFactory(project=project, user=writer, sheet=sheet)},
            {"role": "negative", "alloy_batch": alloy, "mass_mg": 40.0, "description": "Na-Sn 3:1 powder"}])
        dataset = lab.upload(lab.run(made, protocol=protocol), "cycles.bdf.csv", cycling_file(made, retention, first_mah_g))
        assert dataset.state == "done", dataset.message
        return made

    cells = {pressure: [cell(pressure, r) for r in retentions] for pressure, retentions in RETENTION.items()}
    cells["suspect"] = cell(70.0, 0.99, first_mah_g=100.0)
    cells["sheet"] = sheet
    cells["add"] = cell
    return cells


def test_the_ranking_puts_stack_pressure_first_with_group_means_and_leaves_the_suspect_cell_out(
        logged_in, people, pressure_cells):
    client = logged_in(people["reader"])
    sheet = pressure_cells["sheet"].human_id
    response = client.get(f"/compare/?sheet={sheet}&kind=cathode_half")
    assert response.status_code == 200
    comparison = response.context["comparison"]
    suspect = pressure_cells["suspect"].human_id
    assert [label for label, _why in comparison.left_out] == [suspect]
    assert comparison.left_out[0][1].startswith("suspect: loading check: initial discharge capacity 100.0 mAh/g is "
                                                "-16.7 % from 120 mAh/g")
    assert comparison.suspect_left_out == 1
    assert len(comparison.entries) == 4
    assert comparison.cycle == 3  # the last cycle all four reached
    first = comparison.ranking[0]
    assert first.variable == "stack pressure" and first.told
    assert first.eta_squared == pytest.approx(ETA_SQUARED, abs=0.005)
    low, high = first.groups
    assert (low.value, low.n_cells, high.value, high.n_cells) == ("3\u00a0MPa", 2, "70\u00a0MPa", 2)
    assert low.mean == pytest.approx(0.885, abs=0.002)
    assert high.mean == pytest.approx(0.980, abs=0.002)
    assert high.standard_deviation == pytest.approx(math.sqrt(2 * 0.005 ** 2), abs=0.001)
    assert [s.variable for s in comparison.ranking] == ["stack pressure"]  # nothing else differs
    assert comparison.same["electrode sheet"] == sheet
    assert comparison.group_by == "stack_pressure"  # grouped by the variable ranked first

    page = response.content.decode()
    assert "1 cell left out (1 suspect: tick" in page
    assert "Which variable goes with the difference in retention at cycle 3" in page
    assert "98.0\u00a0%" in page and "88.5\u00a0%" in page
    assert "The same for all:" in page and f"electrode sheet {sheet}" in page


def test_the_suspect_cell_comes_in_when_asked_for(logged_in, people, pressure_cells):
    client = logged_in(people["reader"])
    sheet = pressure_cells["sheet"].human_id
    comparison = client.get(f"/compare/?sheet={sheet}&include_suspect=on").context["comparison"]
    assert len(comparison.entries) == 5 and comparison.left_out == []
    suspect = next(e for e in comparison.entries if e.label == pressure_cells["suspect"].human_id)
    assert suspect.suspect.startswith("loading check:")
    assert comparison.ranking[0].groups[1].n_cells == 3
    # another project's member sees none of them
    outsider = logged_in(people["outsider"]).get(f"/compare/?sheet={sheet}&include_suspect=on")
    assert outsider.context["comparison"].entries == []
    assert "No cell with cycles matches these filters." in outsider.content.decode()


def test_the_data_overlays_every_cell_on_one_axis_with_its_group_in_the_label(logged_in, people, pressure_cells):
    client = logged_in(people["reader"])
    response = client.get(f"/compare/data/?sheet={pressure_cells['sheet'].human_id}&group_by=stack_pressure")
    assert response.status_code == 200
    body = response.json()
    assert body["group_by"] == "stack pressure"
    assert body["groups"] == ["3\u00a0MPa", "70\u00a0MPa"]
    retention = body["retention"]
    assert retention["x"] == [1, 2, 3]
    a70 = pressure_cells[70.0][0].human_id
    series = {s["cell"]: s for s in retention["series"]}
    assert series[a70]["label"] == f"70\u00a0MPa · {a70}"
    assert series[a70]["values"][0] == pytest.approx(100.0)
    assert series[a70]["values"][2] == pytest.approx(98.5, abs=0.2)
    efficiency = {s["cell"]: s for s in body["coulombic_efficiency"]["series"]}
    assert efficiency[a70]["values"][1] == pytest.approx(99.0, abs=0.2)
    rate = {s["cell"]: s for s in body["rate_capability"]["series"]}
    assert body["rate_capability"]["x"] == [0.1] and rate[a70]["values"] == [pytest.approx(100.0)]


def test_bad_options_are_refused_naming_the_field(logged_in, people, pressure_cells):
    client = logged_in(people["reader"])
    response = client.get("/compare/data/?kind=cathode_half&cycle=fifty")
    assert response.status_code == 400
    assert response.json() == {"errors": {"cycle": ["Enter a whole number."]}}
    page = client.get("/compare/?kind=cathode_half&stack_pressure_mpa__gte=ten")
    assert page.status_code == 400
    assert "stack_pressure_mpa__gte: Enter a number." in page.content.decode()


def test_too_few_cells_is_said_plainly(logged_in, people, pressure_cells):
    client = logged_in(people["reader"])
    sheet = pressure_cells["sheet"].human_id
    page = client.get(f"/compare/?sheet={sheet}&stack_pressure_mpa__gte=70")
    assert page.context["comparison"].ranking == []  # all at 70 MPa: nothing differs
    assert "Nothing to rank: the chosen cells record the same value of every variable." in page.content.decode()

    pressure_cells["add"](10.0, 0.95)  # one cell at 10 MPa
    page = client.get(f"/compare/?sheet={sheet}")
    score = page.context["comparison"].ranking[0]
    assert score.variable == "stack pressure" and not score.told
    assert score.too_few == "too few cells to tell: 10\u00a0MPa has 1 cell (at least 2 per group needed)"
    assert "too few cells to tell: 10\u00a0MPa has 1 cell" in page.content.decode()


def test_a_retention_cycle_some_cells_lack_leaves_them_out_of_the_ranking(logged_in, people, pressure_cells):
    client = logged_in(people["reader"])
    comparison = client.get(f"/compare/?sheet={pressure_cells['sheet'].human_id}&cycle=50").context["comparison"]
    assert comparison.ranking == []
    assert comparison.not_ranked[0][1] == "no complete cycle 50 at its reference's rate (from cycle 1)"


def test_the_pages_queries_do_not_grow_with_the_number_of_cells(logged_in, people, pressure_cells, lab):
    client = logged_in(people["reader"])
    sheet = pressure_cells["sheet"].human_id

    def count(url):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = {url: count(url) for url in (f"/compare/?sheet={sheet}&stack_pressure_mpa__lte=3",
                                       f"/compare/data/?sheet={sheet}&stack_pressure_mpa__lte=3")}
    for url, queries in few.items():  # 2 cells at 3 MPa against all 5 of the sheet
        assert count(url.replace("&stack_pressure_mpa__lte=3", "&include_suspect=on")) == queries, url
