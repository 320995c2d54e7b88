"""The cells' pages: the list with the API's filters, a cell's page with its derived numbers
rounded to the digits that mean something, its runs and datasets, and what it was built from."""
import json
import re

import pytest
from django.utils.html import escape

from eln.formatting import as_entered

pytestmark = pytest.mark.django_db
NBSP = "\u00a0"


def ids_in(html: str) -> list[str]:
    return re.findall(r'<td><a href="/cells/(CELL-\d+)/">', html)


def fact(html: str, term: str) -> str:
    return re.search(rf"<dt>{re.escape(term)}</dt><dd[^>]*>(.*?)</dd>", html, re.S)[1].strip()


@pytest.fixture
def full_cell(lab):
    """A NaCrO2 | Sn full cell (tests/factories.py): 12 mm discs on 4.05 mg/cm² Al foil, 12.91 mg of
    NaCrO2 95:2:3 and 6.23 mg of Sn 90:5:5."""
    return lab.full_cell(name="full cell at 70 MPa", stack_pressure_mpa=70)


def test_a_cells_page_shows_its_derived_numbers_rounded(logged_in, people, full_cell):
    html = logged_in(people["reader"]).get(f"/cells/{full_cell.human_id}/").content.decode()
    # Area π (0.6 cm)² = 1.1310 cm², foil 4.05 × 1.1310 = 4.580 mg. Positive: (12.91 − 4.580) × 0.95
    # = 7.913 mg of NaCrO2; 1C = 7.913 mg × 120 mAh/g = 0.9496 mA; 0.9496 / 1.1310 = 0.8396 mA/cm².
    # Negative: (6.23 − 4.580) × 0.90 = 1.4846 mg of Sn. N/P = (1.4846 × 847) / (7.913 × 120) = 1.3242.
    assert fact(html, "Electrode area") == f"1.131{NBSP}cm²"
    assert fact(html, "1C current") == f"0.950{NBSP}mA"
    assert fact(html, "1C current density") == f"0.840{NBSP}mA/cm²"
    assert fact(html, "N/P ratio").startswith("1.32 <span")
    assert "on the materials&#x27; reference specific capacities" in fact(html, "N/P ratio")
    assert fact(html, "Reference specific capacity") == f"120{NBSP}mAh/g"
    assert fact(html, "Voltage window") == f"1.5{NBSP}V to 3.3{NBSP}V"
    parts = html.split('id="parts-heading"')[1].split("</section>")[0]
    assert f"7.91{NBSP}mg" in parts and f"7.00{NBSP}mg/cm²" in parts  # 7.913 / 1.1310 = 6.997
    assert f"1.48{NBSP}mg" in parts and f"1.31{NBSP}mg/cm²" in parts  # 1.4846; / 1.1310 = 1.313
    assert "NaCrO2 95:2:3" in parts and "Sn 90:5:5" in parts


def test_a_half_cell_page_says_what_is_not_known_and_has_no_np_ratio(logged_in, people, lab):
    cell = lab.unweighed_cell()
    html = logged_in(people["reader"]).get(f"/cells/{cell.human_id}/").content.decode()
    assert fact(html, "1C current") == "—" and fact(html, "Electrode area") == f"1.131{NBSP}cm²"
    assert "N/P ratio" not in html
    assert "This cell has not been put on a cycler yet." in html


def test_runs_and_datasets_show_their_processing_state_and_message(logged_in, people, lab):
    cell = lab.half_cell()
    run = lab.run(cell)
    done = lab.good_dataset(run)
    failed = lab.failed_dataset(run, "cell-x.csv")
    # the run is still going: the good file's last cycle is not known to have ended
    assert (done.state, done.message, failed.state) == ("done_with_warnings", "done with 1 warning", "failed")
    html = logged_in(people["reader"]).get(f"/cells/{cell.human_id}/").content.decode()
    runs = html.split('id="runs-heading"')[1].split("</section>")[0]
    assert run.human_id in runs and '<span class="badge badge-running">running</span>' in runs
    assert done.human_id in runs and failed.human_id in runs
    assert '<span class="badge badge-failed">failed</span>' in runs
    assert '<span class="badge badge-done_with_warnings">done with warnings</span>' in runs
    assert "done with 1 warning" in runs
    assert failed.message and escape(failed.message) in runs
    assert done.row_count > 0 and f'<td class="num">{as_entered(done.row_count)}</td>' in runs
    assert f'href="/api/v1/raw-files/{done.raw_file.pk}/download/"' in runs
    # The plots read the newest dataset with canonical data, down-sampled on the server.
    plots = re.search(r'<div class="plots" data-plot-base="([^"]+)" data-plot-limit="(\d+)"', html)
    assert plots.groups() == (f"/api/v1/datasets/{done.human_id}/plots/", "1000")
    assert re.findall(r'<div class="plot" data-plot="([^"]+)"', html) == [
        "voltage", "voltage-capacity", "capacity", "rate", "dqdv"]


def test_the_lineage_goes_up_to_the_lots_and_down_to_the_runs(logged_in, people, lab, full_cell):
    run = lab.run(full_cell)
    html = logged_in(people["reader"]).get(f"/cells/{full_cell.human_id}/").content.decode()
    graph = json.loads(re.search(r'<script id="cell-lineage" type="application/json">(.*?)</script>', html, re.S)[1])
    ids = {n["id"] for n in graph["nodes"]}
    positive, negative = (full_cell.electrode_in_role(role).electrode for role in ("positive", "negative"))
    lots = {c.lot.human_id for s in (positive.sheet, negative.sheet) for c in s.components.all()}
    assert {full_cell.human_id, positive.human_id, negative.human_id, positive.sheet.human_id, run.human_id} <= ids
    assert lots <= ids and full_cell.separator_batch.human_id in ids
    edges = {(e["source"], e["target"], e["relation"]) for e in graph["edges"]}
    assert (positive.human_id, full_cell.human_id, "electrode") in edges
    assert (positive.sheet.human_id, positive.human_id, "punched from") in edges
    assert (full_cell.human_id, run.human_id, "cycled") in edges
    lot_node = next(n for n in graph["nodes"] if n["id"] in lots)
    assert lot_node["url"] == f"/lots/{lot_node['id']}/"  # every record has its page
    assert next(n for n in graph["nodes"] if n["id"] == positive.human_id)["url"] == f"/electrodes/{positive.human_id}/"
    upstream = html.split("<h3>Made from</h3>")[1].split("</table>")[0]
    assert f'<a href="/lots/{lot_node["id"]}/">{lot_node["id"]}</a>' in upstream


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
    assert f"0.950{NBSP}mA" in row and ">1.32<" in row and f"1.5–3.3{NBSP}V" in row


def test_a_filter_that_cannot_be_applied_says_so_and_lists_nothing(logged_in, people, lab):
    lab.half_cell()
    html = logged_in(people["reader"]).get("/cells/", {"stack_pressure_mpa__lte": "ten"}).content.decode()
    assert "These filters cannot be applied" in html
    assert "Stack pressure up to (MPa): Enter a number." in html
    assert ids_in(html) == [] and "0 records" in html


def test_a_time_zone_no_country_has_is_a_filter_error_on_the_page_not_a_server_error(logged_in, people, lab):
    lab.half_cell()
    response = logged_in(people["reader"]).get("/cells/", {"created_after": "2020-01-01T00:00:00+16:00"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "These filters cannot be applied" in html
    assert escape("The time zone offset +16:00 is not one of the world's; offsets run from -12:00 to +14:00") in html
    assert ids_in(html) == []


def test_readers_see_no_edit_controls_on_cells(logged_in, people, lab):
    cell = lab.half_cell()
    writer = logged_in(people["writer"]).get(f"/cells/{cell.human_id}/").content.decode()
    assert f'href="/cells/{cell.human_id}/edit/">Edit<' in writer
    reader = logged_in(people["reader"]).get(f"/cells/{cell.human_id}/").content.decode()
    assert "edit-controls" not in reader and "Edit in" not in reader
    assert "edit-controls" not in logged_in(people["reader"]).get("/cells/").content.decode()
    assert logged_in(people["outsider"]).get(f"/cells/{cell.human_id}/").status_code == 404


def test_a_half_cells_lineage_has_its_electrode_beside_its_alloy(logged_in, people, lab):
    cell = lab.half_cell()  # positive: a cast electrode; negative: Na-Sn alloy powder, no electrode
    positive = cell.electrode_in_role("positive").electrode
    alloy = cell.electrode_in_role("negative").alloy_batch
    html = logged_in(people["reader"]).get(f"/cells/{cell.human_id}/").content.decode()
    graph = json.loads(re.search(r'<script id="cell-lineage" type="application/json">(.*?)</script>', html, re.S)[1])
    edges = {(e["source"], e["target"], e["relation"]) for e in graph["edges"]}
    assert (positive.human_id, cell.human_id, "electrode") in edges
    assert (alloy.human_id, cell.human_id, "counter electrode") in edges
    assert (positive.sheet.human_id, positive.human_id, "punched from") in edges
