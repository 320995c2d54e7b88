"""The number of queries a page makes does not grow with the number of rows it shows."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cells.models import Dataset

pytestmark = pytest.mark.django_db


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def test_the_lot_list_makes_as_many_queries_for_60_lots_as_for_3(logged_in, people, lab):
    client = logged_in(people["reader"])
    for _ in range(3):
        lab.take(lab.lot("Na2B12H12"), 10.0, used_for="EB-0001")
    few = queries(client, "/lots/?low_stock=false&search=katchem")
    for _ in range(57):
        lab.take(lab.lot("Na2B10H10"), 10.0, used_for="IS-0001")
    assert queries(client, "/lots/?low_stock=false&search=katchem") == few
    assert few <= 8


def test_a_lots_page_makes_as_many_queries_for_40_ledger_lines_as_for_2(logged_in, people, lab):
    client = logged_in(people["reader"])
    lot = lab.lot("Isopropanol", 786000.0)
    for n in range(2):
        lab.take(lot, 15.7, used_for=f"EB-{n + 1:04d}")
    few = queries(client, f"/lots/{lot.human_id}/")
    for n in range(38):
        lab.take(lot, 15.7, used_for=f"IS-{n + 1:04d}")
    assert queries(client, f"/lots/{lot.human_id}/") == few


def test_the_cell_list_makes_as_many_queries_for_30_cells_as_for_2(logged_in, people, lab):
    client = logged_in(people["reader"])

    def full_cell():
        lab.cell(lab.electrode(lab.sheet("NaCrO2"), 8.4), lab.electrode(lab.sheet("Sn", (90, 5, 5)), 1.6), kind="full")

    for _ in range(2):
        full_cell()
    few = queries(client, "/cells/?kind=full")
    for _ in range(28):
        full_cell()
    assert queries(client, "/cells/?kind=full") == few
    assert few <= 12


def test_a_cells_page_makes_as_many_queries_for_8_runs_as_for_1(logged_in, people, lab):
    client = logged_in(people["reader"])
    cell = lab.cell(lab.electrode(lab.sheet("NaCrO2"), 8.4), lab.electrode(lab.sheet("Sn", (90, 5, 5)), 1.6),
                    kind="full")
    lab.dataset(lab.run(cell))
    few = queries(client, f"/cells/{cell.human_id}/")
    for _ in range(7):
        run = lab.run(cell)
        lab.dataset(run)
        lab.dataset(run, state=Dataset.State.FAILED, message="no voltage column")
    assert queries(client, f"/cells/{cell.human_id}/") == few


def test_the_dashboard_makes_as_many_queries_for_many_records_as_for_few(logged_in, people, lab):
    client = logged_in(people["reader"])
    lab.dataset(lab.run(lab.half_cell()), state=Dataset.State.FAILED, message="bad file")
    lab.lot("Na2B10H10", 100, low_stock_threshold_mg=1000)
    few = queries(client, "/")
    for _ in range(15):
        lab.dataset(lab.run(lab.half_cell()), state=Dataset.State.FAILED, message="bad file")
        lab.lot("Na2B10H10", 100, low_stock_threshold_mg=1000)
    assert queries(client, "/") == few
