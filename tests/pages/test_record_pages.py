"""The pages of every record type besides lots and cells: lists filtered by the API's filter
sets (the same rows as the API), sorted both ways, searched; each record's page with its
derived numbers rounded to the digits that mean something, its rows, its stock and ledger,
where it came from and what was made from it; no edit control for a reader."""
import json
import re

import pytest

from cells.models import CellPart
from eln.formatting import significant
from tests import factories

pytestmark = pytest.mark.django_db
NBSP = "\u00a0"


def labels_in(html: str, path: str) -> list[str]:
    return re.findall(rf'<td><a href="/{path}/([A-Z]+-\d+)/">', html)


def fact(html: str, term: str) -> str:
    return re.search(rf"<dt>{re.escape(term)}</dt><dd[^>]*>(.*?)</dd>", html, re.S)[1].strip()


def section(html: str, heading_id: str) -> str:
    return html.split(f'id="{heading_id}"')[1].split("</section>")[0]


@pytest.fixture
def world(lab, project, people):
    """Two of each record, told apart by the filters."""
    writer = people["writer"]
    b12 = lab.lot("Na2B12H12", 50_000)
    batches = [lab.batch_from((b12, 533.6)), factories.ElectrolyteBatchFactory(
        project=project, user=writer, route="ball_milling", xrd_phase="fcc")]
    solutions = [lab.solution_from((b12, 500.0)), lab.solution_from((lab.lot("Na2B10H10"), 400.0))]
    sheets = [factories.ElectrodeSheetFactory(project=project, user=writer),
              factories.ElectrodeSheetFactory(project=project, user=writer, tin=True)]
    electrodes = [factories.ElectrodeFactory(project=project, user=writer, sheet=sheets[0]),
                  factories.ElectrodeFactory(project=project, user=writer, sheet=sheets[1], mass_mg=6.23)]
    runs = [factories.InfiltrationRunFactory(project=project, user=writer, solution=solutions[0], electrodes=[
        {"electrode": electrodes[0], "mass_before_mg": 12.91, "mass_after_mg": 14.25}]),
        factories.InfiltrationRunFactory(project=project, user=writer, solution=solutions[1], electrodes=[
            {"electrode": electrodes[1], "mass_before_mg": 6.23, "mass_after_mg": 6.50}])]
    alloys = [factories.AlloyBatchFactory(project=project, user=writer),
              factories.AlloyBatchFactory(project=project, user=writer, name="Na-Sn 1:1", inputs=[
                  {"lot": factories.lot(project, "Na"), "mass_mg": 100.0}])]
    protocols = [factories.ProtocolFactory(project=project, user=writer),
                 factories.ProtocolFactory(project=project, user=writer, name="rate test 0.1C to 5C")]
    cell = lab.half_cell()
    cycling = [lab.run(cell), lab.run(lab.half_cell(), state="finished")]
    datasets = [lab.good_dataset(cycling[0]), lab.failed_dataset(cycling[1])]
    return {"batches": batches, "solutions": solutions, "sheets": sheets, "electrodes": electrodes, "runs": runs,
            "alloys": alloys, "protocols": protocols, "cycling": cycling, "datasets": datasets, "b12": b12}


LISTS = [
    ("electrolyte-batches", "batches", lambda w: ({"route": "ball_milling"}, [w["batches"][1]])),
    ("electrolyte-batches", "batches", lambda w: ({"uses_lot": w["b12"].human_id}, [w["batches"][0]])),
    ("infiltration-solutions", "solutions", lambda w: ({"uses_lot": w["b12"].human_id}, [w["solutions"][0]])),
    ("electrode-sheets", "sheets", lambda w: ({"active_material": "Sn"}, [w["sheets"][1]])),
    ("electrodes", "electrodes", lambda w: ({"sheet": w["sheets"][0].human_id}, [w["electrodes"][0]])),
    ("infiltration-runs", "runs", lambda w: ({"solution": w["solutions"][1].human_id}, [w["runs"][1]])),
    ("infiltration-runs", "runs", lambda w: ({"electrode": w["electrodes"][0].human_id}, [w["runs"][0]])),
    ("alloy-batches", "alloys", lambda w: ({"uses_lot": w["alloys"][1].inputs.get().lot.human_id}, [w["alloys"][1]])),
    ("alloy-batches", "alloys", lambda w: ({"search": w["alloys"][0].human_id}, [w["alloys"][0]])),
    ("protocols", "protocols", lambda w: ({"name": "rate"}, [w["protocols"][1]])),
    ("cycling-runs", "cycling", lambda w: ({"state": "finished"}, [w["cycling"][1]])),
    ("cycling-runs", "cycling", lambda w: ({"cell": w["cycling"][0].cell.human_id}, [w["cycling"][0]])),
    ("datasets", "datasets", lambda w: ({"state": "failed"}, [w["datasets"][1]])),
    ("datasets", "datasets", lambda w: ({"run": w["cycling"][0].human_id}, [w["datasets"][0]])),
]


@pytest.mark.parametrize("path, key, case", LISTS, ids=[f"{p}-{i}" for i, (p, _k, _c) in enumerate(LISTS)])
def test_each_list_filters_with_the_api_filter_set(logged_in, people, api, world, path, key, case):
    query, expected = case(world)
    client = logged_in(people["reader"])
    everything = labels_in(client.get(f"/{path}/").content.decode(), path)
    assert set(r.human_id for r in world[key]) <= set(everything)
    on_page = labels_in(client.get(f"/{path}/", query).content.decode(), path)
    from_api = [row["id"] for row in api(people["reader"]).get(f"/api/v1/{path}/", query).json()["results"]]
    assert on_page == [r.human_id for r in expected], query
    assert sorted(on_page) == sorted(from_api), query


def test_columns_sort_both_ways(logged_in, people, world):
    client = logged_in(people["reader"])
    mine = {e.human_id for e in world["electrodes"]}
    up = [e for e in labels_in(client.get("/electrodes/", {"ordering": "mass_mg"}).content.decode(), "electrodes")
          if e in mine]
    down = [e for e in labels_in(client.get("/electrodes/", {"ordering": "-mass_mg"}).content.decode(), "electrodes")
            if e in mine]
    assert up == [world["electrodes"][1].human_id, world["electrodes"][0].human_id] == down[::-1]
    html = client.get("/infiltration-solutions/", {"ordering": "remaining"}).content.decode()
    assert re.search(r'<th scope="col" class="num" aria-sort="ascending">\s*<a href="[^"]*ordering=-remaining', html)


def test_the_materials_and_cyclers_are_the_whole_labs(logged_in, people, world):
    client = logged_in(people["reader"])
    materials = client.get("/materials/", {"kind": "cathode_active"}).content.decode()
    assert '<a href="/materials/NaCrO2/">NaCrO2</a>' in materials and "Na2B12H12" not in materials
    row = materials.split('<a href="/materials/NaCrO2/">')[1].split("</tr>")[0]
    assert f"125{NBSP}mAh/g" in row and f"120{NBSP}mAh/g" in row  # 0.5 F / (3.6 × 106.98) = 125.2
    page = client.get("/materials/Na2B12H12/").content.decode()
    assert world["b12"].human_id in section(page, "lots-heading")
    cycler = world["cycling"][0].channel.cycler
    listing = client.get("/cyclers/").content.decode()
    assert f'<a href="/cyclers/{cycler.name}/">{cycler.name}</a>' in listing
    channels = section(client.get(f"/cyclers/{cycler.name}/").content.decode(), "channels-heading")
    assert world["cycling"][0].human_id in channels


def test_a_sheets_page_shows_its_loading_porosity_discs_and_electrodes(logged_in, people, world):
    sheet = world["sheets"][0]
    html = logged_in(people["reader"]).get(f"/electrode-sheets/{sheet.human_id}/").content.decode()
    # Four 12.91 mg discs on 1.1310 cm² less 4.05 mg/cm² of foil: 7.365 mg/cm², 6.997 of NaCrO2;
    # ρ = 4.116 g/cm³; porosity 1 − 7.365 / (80 µm × 4.116) = 77.6 %.
    assert fact(html, "Composite density") == f"4.12{NBSP}g/cm³"
    assert fact(html, "Areal loading") == f"7.36{NBSP}mg/cm² ± 0.00{NBSP}mg/cm²"
    assert fact(html, "Active loading") == f"7.00{NBSP}mg/cm²"
    assert fact(html, "Casting porosity") == f"77.6{NBSP}%"
    discs = section(html, "discs-heading")
    assert discs.count(f"7.36{NBSP}mg/cm²") == 4 and f"1.131{NBSP}cm²" in discs
    electrodes = section(html, "electrodes-heading")
    assert world["electrodes"][0].human_id in electrodes and f"0.950{NBSP}mA" in electrodes


def test_an_electrodes_page_shows_its_masses_its_infiltration_and_its_lineage(logged_in, people, world, lab):
    electrode = world["electrodes"][0]
    html = logged_in(people["reader"]).get(f"/electrodes/{electrode.human_id}/").content.decode()
    assert fact(html, "Coating mass") == f"8.33{NBSP}mg"  # 12.91 − 4.05 × 1.1310
    assert fact(html, "Active mass") == f"7.91{NBSP}mg" and fact(html, "1C current") == f"0.950{NBSP}mA"
    infiltrations = section(html, "infiltrations-heading")
    assert world["runs"][0].human_id in infiltrations and f"16.1{NBSP}%" in infiltrations  # 1.34 / 8.33
    graph = json.loads(re.search(r'<script id="record-lineage" type="application/json">(.*?)</script>', html,
                                 re.S)[1])
    edges = {(e["source"], e["target"], e["relation"]) for e in graph["edges"]}
    assert (electrode.sheet.human_id, electrode.human_id, "punched from") in edges
    assert (world["runs"][0].human_id, electrode.human_id, "infiltrated in") in edges
    assert (world["solutions"][0].human_id, world["runs"][0].human_id, "solution") in edges


def test_an_infiltration_runs_page_shows_each_electrodes_uptake_and_porosity(logged_in, people, project):
    run = factories.InfiltrationRunFactory(project=project, user=people["writer"])
    html = logged_in(people["reader"]).get(f"/infiltration-runs/{run.human_id}/").content.decode()
    row = section(html, "electrodes-heading").split("<tbody>")[1]
    # measured (14.25 − 12.91) / 8.330 = 16.1 %; expected 0.7764 × 0.1 / (0.2236 × 4.116) = 8.4 %;
    # pressed to 40 µm with 14.2 mg: 9.620 mg of coating and electrolyte (1.290 mg of it electrolyte,
    # ρ of the mixture 1/(0.8659/4.116 + 0.1341/1.17) = 3.077 g/cm³) in 1.1310 cm² × 40 µm:
    # 1 − (9.620 mg / 4.524 mm³) / 3.077 = 30.9 % (the paper: 30–38 %).
    assert f'measured-uptake">16.1{NBSP}%' in row and f'expected-uptake">8.4{NBSP}%' in row
    assert f'remaining-porosity">30.9{NBSP}%' in row
    assert fact(html, "Solution used") == f"2{NBSP}mL" and f"100.0{NBSP}mg/mL" in fact(html, "Solution")


def test_a_batchs_page_shows_its_conductivity_stock_and_ledger(logged_in, people, project, lab):
    batch = factories.ElectrolyteBatchFactory(project=project, user=people["writer"], pellet_mass_mg=62.0,
                                              conductivity_measurements=[
                                                  {"temperature_c": 25, "pellet_thickness_mm": 0.5,
                                                   "pellet_area_cm2": 1.131, "resistance_ohm": 44.2}])
    lab.full_cell(separator_batch=batch, separator_mass_mg=55.0)
    html = logged_in(people["reader"]).get(f"/electrolyte-batches/{batch.human_id}/").content.decode()
    assert fact(html, "Ionic conductivity at 25 °C") == f"0.00100{NBSP}S/cm"  # 0.05 cm / (44.2 Ω × 1.131 cm²)
    assert fact(html, "Activation energy") == "—"  # one temperature: no fit
    stock = section(html, "stock-heading")
    assert f"962.0{NBSP}mg" in stock and f"117.0{NBSP}mg" in stock and f"845.0{NBSP}mg" in stock  # 62 + 55
    ledger = section(html, "ledger-heading")
    assert ledger.count("<tr>") == 3 and f"900.0{NBSP}mg" in ledger and f"845.0{NBSP}mg" in ledger
    assert "separator" in html.split("What was made from it")[1]


def test_a_solutions_and_an_alloys_pages_show_their_stock(logged_in, people, world, lab):
    solution = world["solutions"][0]
    client = logged_in(people["reader"])
    html = client.get(f"/infiltration-solutions/{solution.human_id}/").content.decode()
    assert fact(html, "Concentration") == f"50.0{NBSP}mg/mL"  # 500 mg in 10 mL
    assert f"8.00{NBSP}mL" in section(html, "stock-heading")  # 10 mL less the 2 mL dip
    assert world["runs"][0].human_id in section(html, "ledger-heading")
    cell = lab.half_cell()
    alloy = cell.electrode_in_role(CellPart.Role.NEGATIVE).alloy_batch
    html = client.get(f"/alloy-batches/{alloy.human_id}/").content.decode()
    assert f"1000.0{NBSP}mg" in section(html, "stock-heading") and f"960.0{NBSP}mg" in section(html, "stock-heading")
    assert cell.human_id in section(html, "ledger-heading")


def test_a_protocol_and_a_runs_pages_show_the_blocks_and_currents(logged_in, people, lab):
    cell = lab.full_cell()
    run = lab.run(cell)
    client = logged_in(people["reader"])
    html = client.get(f"/protocols/{run.protocol.human_id}/").content.decode()
    assert "102 cycles" in html and run.human_id in section(html, "runs-heading")
    html = client.get(f"/cycling-runs/{run.human_id}/").content.decode()
    blocks = section(html, "blocks-heading")
    assert f"0.1{NBSP}C = 0.0950{NBSP}mA" in blocks and f"0.5{NBSP}C = 0.475{NBSP}mA" in blocks  # 1C 0.950 mA


def test_a_datasets_page_shows_its_cycles(logged_in, people, world):
    from analysis.models import CycleSummary

    dataset = world["datasets"][0]
    cycles = list(CycleSummary.objects.filter(dataset=dataset).order_by("cycle_number"))
    assert cycles
    html = logged_in(people["reader"]).get(f"/datasets/{dataset.human_id}/").content.decode()
    table = section(html, "cycles-heading")
    assert f"{len(cycles)} cycle" in table and table.count("<tr><td") == len(cycles)
    first = cycles[0]
    row = re.search(rf'<tr><td class="num">{first.cycle_number}</td>(.*?)</tr>', table, re.S)[1]
    assert f'<td class="num">{significant(first.discharge_capacity_mah, 4, "mAh")}</td>' in row
    assert 'href="?export=csv"' in table and 'href="?export=xlsx"' in table
    failed = logged_in(people["reader"]).get(f"/datasets/{world['datasets'][1].human_id}/").content.decode()
    assert "No cycles yet: the dataset is failed." in failed


def detail_pages(world):
    return [f"/electrolyte-batches/{world['batches'][0].human_id}/",
            f"/infiltration-solutions/{world['solutions'][0].human_id}/",
            f"/electrode-sheets/{world['sheets'][0].human_id}/", f"/electrodes/{world['electrodes'][0].human_id}/",
            f"/infiltration-runs/{world['runs'][0].human_id}/", f"/alloy-batches/{world['alloys'][0].human_id}/",
            f"/protocols/{world['protocols'][0].human_id}/", f"/cycling-runs/{world['cycling'][0].human_id}/",
            f"/datasets/{world['datasets'][0].human_id}/", "/materials/NaCrO2/",
            f"/cyclers/{world['cycling'][0].channel.cycler.name}/"]


LIST_PAGES = ["/materials/", "/electrolyte-batches/", "/infiltration-solutions/", "/electrode-sheets/", "/electrodes/",
              "/infiltration-runs/", "/alloy-batches/", "/protocols/", "/cycling-runs/", "/datasets/", "/cyclers/"]


def test_readers_see_no_edit_controls_and_writers_the_forms(logged_in, people, world):
    reader = logged_in(people["reader"])
    for url in detail_pages(world) + LIST_PAGES:
        html = reader.get(url).content.decode()
        assert "edit-controls" not in html and "/edit/" not in html and "/new/" not in html, url
    writer = logged_in(people["writer"])
    for url in detail_pages(world)[:8]:
        html = writer.get(url).content.decode()
        assert re.search(rf'<a class="button secondary" href="{re.escape(url)}edit/">Edit</a>', html), url
    for url in ("/electrolyte-batches/", "/infiltration-solutions/", "/electrode-sheets/", "/infiltration-runs/",
                "/alloy-batches/", "/protocols/", "/cycling-runs/"):
        assert "edit-controls" in writer.get(url).content.decode(), url
    assert logged_in(people["outsider"]).get(detail_pages(world)[0]).status_code == 404  # (the same client)


def test_labels_link_to_every_records_page(logged_in, people, world):
    html = logged_in(people["reader"]).get(f"/lots/{world['b12'].human_id}/").content.decode()
    ledger = section(html, "ledger-heading")
    assert f'<a href="/electrolyte-batches/{world["batches"][0].human_id}/">' in ledger
    assert f'<a href="/infiltration-solutions/{world["solutions"][0].human_id}/">' in ledger
