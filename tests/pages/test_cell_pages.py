"""The cells' pages: the list with the API's filters, a cell's page with its derived numbers
rounded to the digits that mean something, its runs and datasets, and what it was built from."""
import json
import re

import pytest

from cells.models import Cell, Dataset

pytestmark = pytest.mark.django_db
NBSP = "\u00a0"


def ids_in(html: str) -> list[str]:
    return re.findall(r'<td><a href="/cells/(CELL-\d+)/">', html)


def fact(html: str, term: str) -> str:
    return re.search(rf"<dt>{re.escape(term)}</dt><dd[^>]*>(.*?)</dd>", html, re.S)[1].strip()


@pytest.fixture
def full_cell(lab):
    """A NaCrO2 | Sn full cell: 8.40 mg of 95:2:3 and 1.60 mg of 90:5:5, 12 mm discs, no foil mass."""
    positive = lab.electrode(lab.sheet("NaCrO2", (95, 2, 3)), 8.40)
    negative = lab.electrode(lab.sheet("Sn", (90, 5, 5)), 1.60)
    return lab.cell(positive, negative, kind=Cell.Kind.FULL, name="full cell at 70 MPa", stack_pressure_mpa=70,
                    lower_cutoff_v=1.5, upper_cutoff_v=3.3)


def test_a_cells_page_shows_its_derived_numbers_rounded(logged_in, people, full_cell):
    html = logged_in(people["reader"]).get(f"/cells/{full_cell.human_id}/").content.decode()
    # Area π (0.6 cm)² = 1.1310 cm²; active 8.40 × 0.95 = 7.980 mg; 1C = 7.980 mg × 120 mAh/g = 0.9576 mA;
    # 0.9576 / 1.1310 = 0.8467 mA/cm²; N/P = (1.44 / 1.1310 × 847) / (7.98 / 1.1310 × 120) = 1.2737.
    assert fact(html, "Electrode area") == f"1.131{NBSP}cm²"
    assert fact(html, "1C current") == f"0.958{NBSP}mA"
    assert fact(html, "1C current density") == f"0.847{NBSP}mA/cm²"
    assert fact(html, "N/P ratio").startswith("1.27 <span")
    assert "on the materials&#x27; reference specific capacities" in fact(html, "N/P ratio")
    assert fact(html, "Reference specific capacity") == f"120{NBSP}mAh/g"
    assert fact(html, "Voltage window") == f"1.5{NBSP}V to 3.3{NBSP}V"
    parts = html.split('id="parts-heading"')[1].split("</section>")[0]
    assert f"7.98{NBSP}mg" in parts and f"7.06{NBSP}mg/cm²" in parts  # 7.980 / 1.1310 = 7.056
    assert f"1.44{NBSP}mg" in parts and f"1.27{NBSP}mg/cm²" in parts  # 1.60 × 0.90; / 1.1310
    assert "NaCrO2 95:2:3" in parts and "Sn 90:5:5" in parts


def test_a_half_cell_page_says_what_is_not_known_and_has_no_np_ratio(logged_in, people, lab):
    cell = lab.cell(kind=Cell.Kind.CATHODE_HALF)  # no positive electrode recorded yet
    html = logged_in(people["reader"]).get(f"/cells/{cell.human_id}/").content.decode()
    assert fact(html, "1C current") == "—" and fact(html, "Electrode area") == "—"
    assert "N/P ratio" not in html
    assert "This cell has not been put on a cycler yet." in html


def test_runs_and_datasets_show_their_processing_state_and_message(logged_in, people, lab):
    cell = lab.half_cell()
    run = lab.run(cell)
    done = lab.dataset(run)
    done.parquet_file = f"raw/{run.human_id}/canonical.parquet"
    done.row_count = 125000
    done.save()
    failed = lab.dataset(run, state=Dataset.State.FAILED, message="cell-x.mpt, line 3: no voltage column")
    html = logged_in(people["reader"]).get(f"/cells/{cell.human_id}/").content.decode()
    runs = html.split('id="runs-heading"')[1].split("</section>")[0]
    assert run.human_id in runs and '<span class="badge badge-running">running</span>' in runs
    assert done.human_id in runs and failed.human_id in runs
    assert '<span class="badge badge-failed">failed</span>' in runs
    assert "cell-x.mpt, line 3: no voltage column" in runs
    assert "125\u202f000" in runs
    assert f'href="/api/v1/raw-files/{done.raw_file.pk}/download/"' in runs
    # The plot reads the newest dataset with canonical data, down-sampled on the server.
    plot = re.search(r'<div class="plot" data-plot-url="([^"]+)"', html)[1].replace("&amp;", "&")
    assert plot == f"/api/v1/datasets/{done.human_id}/data/?points=2000&columns=test_time_s,voltage_v"


def test_the_build_graph_goes_from_the_lots_through_the_sheets_and_electrodes_to_the_cell(
        logged_in, people, full_cell):
    html = logged_in(people["reader"]).get(f"/cells/{full_cell.human_id}/").content.decode()
    graph = json.loads(re.search(r'<script id="cell-lineage" type="application/json">(.*?)</script>', html, re.S)[1])
    ids = {n["id"] for n in graph["nodes"]}
    positive, negative = (full_cell.electrode_in_role(role).electrode for role in ("positive", "negative"))
    assert {full_cell.human_id, positive.human_id, negative.human_id, positive.sheet.human_id} <= ids
    lots = {c.lot.human_id for s in (positive.sheet, negative.sheet) for c in s.components.all()}
    assert lots <= ids and len(ids) == 1 + 2 + 2 + 6
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert (positive.human_id, full_cell.human_id) in edges and (positive.sheet.human_id, positive.human_id) in edges
    lot_node = next(n for n in graph["nodes"] if n["id"] in lots)
    assert lot_node["url"] == f"/lots/{lot_node['id']}/"  # lots have pages; electrodes not yet
    assert next(n for n in graph["nodes"] if n["id"] == positive.human_id)["url"] is None


def test_the_cell_list_filters_with_the_api_filter_set(logged_in, people, api, lab, full_cell):
    spring = lab.half_cell(name="spring cell", stack_pressure_mpa=3)
    pressed = lab.half_cell(name="70 MPa cell", stack_pressure_mpa=70)
    client = logged_in(people["reader"])
    positive_sheet = full_cell.electrode_in_role("positive").electrode.sheet.human_id
    for query, expected in (
        ({"stack_pressure_mpa__lte": "10"}, [spring]),
        ({"stack_pressure_mpa__gte": "10"}, [pressed, full_cell]),
        ({"kind": "full"}, [full_cell]),
        ({"sheet": positive_sheet}, [full_cell]),
        ({"search": "spring"}, [spring]),
    ):
        on_page = ids_in(client.get("/cells/", query).content.decode())
        from_api = [row["id"] for row in api(people["reader"]).get("/api/v1/cells/", query).json()["results"]]
        assert on_page == [c.human_id for c in expected], query
        assert sorted(on_page) == sorted(from_api), query
    html = client.get("/cells/", {"ordering": "stack_pressure_mpa"}).content.decode()
    assert ids_in(html)[0] == spring.human_id
    row = html.split(f'<a href="/cells/{full_cell.human_id}/">')[1].split("</tr>")[0]
    assert f"0.958{NBSP}mA" in row and ">1.27<" in row and f"1.5–3.3{NBSP}V" in row


def test_a_filter_that_cannot_be_applied_says_so_and_lists_nothing(logged_in, people, lab):
    lab.half_cell()
    html = logged_in(people["reader"]).get("/cells/", {"stack_pressure_mpa__lte": "ten"}).content.decode()
    assert "These filters cannot be applied" in html
    assert "Stack pressure up to (MPa): Enter a number." in html
    assert ids_in(html) == [] and "0 records" in html


def test_readers_see_no_edit_controls_on_cells(logged_in, people, lab):
    cell = lab.half_cell()
    writer = logged_in(people["writer"]).get(f"/cells/{cell.human_id}/").content.decode()
    assert f'href="/api/v1/cells/{cell.human_id}/">Edit in the API form<' in writer
    reader = logged_in(people["reader"]).get(f"/cells/{cell.human_id}/").content.decode()
    assert "edit-controls" not in reader and "Edit in" not in reader
    assert "edit-controls" not in logged_in(people["reader"]).get("/cells/").content.decode()
    assert logged_in(people["outsider"]).get(f"/cells/{cell.human_id}/").status_code == 404
