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
