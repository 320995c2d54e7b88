"""Printable labels: a QR code made on the server for lots, sheets, electrodes and cells, holding
the absolute address of the record's page; one or many labels, several copies; records a member
may not see are not printed."""
import re

import pytest
import segno

from eln.labels import qr_svg

pytestmark = pytest.mark.django_db


def labels_on(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<div class="label" data-label="([^"]+)" data-url="([^"]+)">', html)


def matrix(svg: str) -> str:
    return re.search(r' d="([^"]+)"', svg)[1]


def test_a_cells_label_holds_the_address_of_its_page(logged_in, people, lab):
    cell = lab.half_cell(name="NaCrO2 half cell")
    html = logged_in(people["reader"]).get(f"/labels/?records={cell.human_id}").content.decode()
    url = f"http://testserver/cells/{cell.human_id}/"
    assert labels_on(html) == [(cell.human_id, url)]
    label = html.split('class="label" data-label')[1]
    assert '<p class="label-id">CELL-' in label and "NaCrO2 half cell" in label and "cell ·" in label
    # The code drawn is the QR code of that address (the same path segno draws for it), no style in it.
    svg = re.search(r"(<svg.*?</svg>)", label, re.S)[1]
    assert matrix(svg) == matrix(qr_svg(url)) and "style" not in svg and "<script" not in svg
    assert segno.make(url, error="m").designator.endswith("-M")


def test_labels_for_lots_sheets_electrodes_and_cells_on_one_sheet(logged_in, people, lab, settings):
    settings.ELN_SITE_URL = "https://eln.lab.example"
    cell = lab.half_cell()
    electrode = cell.electrode_in_role("positive").electrode
    lot = lab.lot("Na2B12H12")
    records = [lot.human_id, electrode.sheet.human_id, electrode.human_id, cell.human_id]
    html = logged_in(people["reader"]).get(f"/labels/?records={'+'.join(records)}&layout=sheet&copies=2").content.decode()
    assert labels_on(html) == [(label, url) for label, url in (
        (lot.human_id, f"https://eln.lab.example/lots/{lot.human_id}/"),
        (electrode.sheet.human_id, f"https://eln.lab.example/electrode-sheets/{electrode.sheet.human_id}/"),
        (electrode.human_id, f"https://eln.lab.example/electrodes/{electrode.human_id}/"),
        (cell.human_id, f"https://eln.lab.example/cells/{cell.human_id}/")) for _ in range(2)]
    assert '<div class="labels labels-sheet">' in html
    assert "/static/eln/labels.css" in html


def test_records_one_may_not_see_are_not_printed(logged_in, people, lab):
    cell = lab.half_cell()
    html = logged_in(people["outsider"]).get(f"/labels/?records={cell.human_id}+XYZ-0001").content.decode()
    assert labels_on(html) == []
    assert f"No record you may see has the label {cell.human_id}, XYZ-0001." in html
    assert "XYZ-0001: no kind of record has that prefix." in html


def test_a_records_page_shows_its_label_and_links_to_printing(logged_in, people, lab):
    cell, lot = lab.half_cell(), lab.lot("Na2B10H10")
    client = logged_in(people["reader"])
    for record, page in ((cell, f"/cells/{cell.human_id}/"), (lot, f"/lots/{lot.human_id}/")):
        html = client.get(page).content.decode()
        section = html.split('id="label-heading"')[1].split("</section>")[0]
        assert f'href="/labels/?records={record.human_id}&amp;layout=single"' in section
        assert f"http://testserver{page}" in section and "<svg" in section


def test_the_label_page_asks_for_labels_when_given_none_and_limits_copies(logged_in, people, lab):
    client = logged_in(people["reader"])
    assert "Type the labels of the records to print" in client.get("/labels/").content.decode()
    cell = lab.half_cell()
    html = client.get(f"/labels/?records={cell.human_id}&copies=9999&layout=nonsense").content.decode()
    assert len(labels_on(html)) == 50 and '<div class="labels labels-single">' in html
    assert len(labels_on(client.get(f"/labels/?records={cell.human_id}&copies=two").content.decode())) == 1
