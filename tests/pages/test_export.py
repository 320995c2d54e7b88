"""Export of a list (with its filters and order) and of a dataset's cycles, as CSV and as Excel:
numbers as numbers rounded as the page rounds them, units in the header, number formats in Excel."""
import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook

pytestmark = pytest.mark.django_db


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))


def test_a_list_exports_its_filtered_sorted_rows_as_csv(logged_in, people, lab):
    b12 = lab.lot("Na2B12H12", 5000, supplier="Katchem")
    b10 = lab.lot("Na2B10H10", 2000, supplier="Katchem")
    lab.lot("Sn", 25000, supplier="Sigma-Aldrich")
    lab.correct(b10, 933.25)
    response = logged_in(people["reader"]).get("/lots/", {"supplier": "katchem", "ordering": "remaining",
                                                          "export": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="precursor-lots-')
    rows = csv_rows(response)
    header = rows[0]
    assert header[:3] == ["ID", "Material", "Supplier"]
    assert "Received (mg)" in header and "Remaining (mg)" in header
    remaining = header.index("Remaining (mg)")
    assert [r[0] for r in rows[1:]] == [b10.human_id, b12.human_id]  # the page's filter and order, every row
    # 2000 − 933.25: every digit in the file (the page shows 1066.8)
    assert [r[remaining] for r in rows[1:]] == ["1066.75", "5000"]
    assert rows[1][header.index("Stock")] == ""  # no value: an empty cell


def test_a_list_exports_as_excel_with_number_formats_and_units(logged_in, people, lab):
    cell = lab.full_cell(name="full cell", stack_pressure_mpa=70)
    response = logged_in(people["reader"]).get("/cells/", {"kind": "full", "export": "xlsx"})
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in sheet[1]]
    assert header[0] == "ID" and "1C current (mA)" in header and "Stack pressure (MPa)" in header
    assert "N/P" in header
    row = {name: c for name, c in zip(header, sheet[2])}
    assert row["ID"].value == cell.human_id
    assert row["1C current (mA)"].value == pytest.approx(7.913 * 0.120, rel=1e-3)  # 7.913 mg × 120 mAh/g
    assert row["N/P"].value == pytest.approx(1.324, rel=1e-3) and row["N/P"].number_format == "0.00"  # shows 1.32
    assert row["Stack pressure (MPa)"].value == 70
    assert isinstance(row["Recorded"].value, dt.datetime) and row["Recorded"].number_format == "yyyy-mm-dd"
    assert sheet.max_row == 2


def test_every_list_exports(logged_in, people, lab):
    lab.run(lab.full_cell())
    client = logged_in(people["reader"])
    for url in ("/materials/", "/electrolyte-batches/", "/infiltration-solutions/", "/electrode-sheets/",
                "/electrodes/", "/infiltration-runs/", "/alloy-batches/", "/protocols/", "/cycling-runs/",
                "/datasets/", "/cyclers/", "/lots/", "/cells/"):
        rows = csv_rows(client.get(url, {"export": "csv"}))
        assert len(rows[0]) > 3, url
        book = load_workbook(io.BytesIO(client.get(url, {"export": "xlsx"}).content)).active
        assert [c.value for c in book[1]] == rows[0] and book.max_row == len(rows), url
    # The list page offers both, with its filters.
    html = client.get("/cells/", {"kind": "full"}).content.decode()
    assert 'href="?kind=full&amp;export=csv"' in html and 'href="?kind=full&amp;export=xlsx"' in html


def test_a_datasets_cycles_export_with_units(logged_in, people, lab):
    from analysis.models import CycleSummary

    dataset = lab.good_dataset(lab.run(lab.half_cell()))
    cycles = list(CycleSummary.objects.filter(dataset=dataset).order_by("cycle_number"))
    client = logged_in(people["reader"])
    rows = csv_rows(client.get(f"/datasets/{dataset.human_id}/", {"export": "csv"}))
    header = rows[0]
    assert header[:4] == ["Cycle", "Complete", "Charge (mAh)", "Discharge (mAh)"]
    assert "Coulombic efficiency (%)" in header and "Mean discharge voltage (V)" in header
    assert [int(r[0]) for r in rows[1:]] == [c.cycle_number for c in cycles]
    ce = header.index("Coulombic efficiency (%)")
    for row, cycle in zip(rows[1:], cycles):
        expected = None if cycle.coulombic_efficiency is None else cycle.coulombic_efficiency * 100
        assert (float(row[ce]) if row[ce] else None) == pytest.approx(expected)
    book = load_workbook(io.BytesIO(client.get(f"/datasets/{dataset.human_id}/", {"export": "xlsx"}).content)).active
    header = [c.value for c in book[1]]
    volts = book.cell(row=2, column=header.index("Mean charge voltage (V)") + 1)
    assert volts.number_format == "0.000"
    assert volts.value == pytest.approx(cycles[0].mean_charge_voltage_v)  # shown to 1 mV, kept whole
