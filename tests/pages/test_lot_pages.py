"""The precursor lots' pages: the list with search, the API's filters, sortable columns and
pages; a lot's page with its stock, ledger and where it went; edit controls only for writers."""
import json
import re

import pytest

from samples.models import StockMovement

pytestmark = pytest.mark.django_db
NBSP, THIN = "\u00a0", "\u202f"


def ids_in(html: str) -> list[str]:
    return re.findall(r'<td><a href="/lots/(LOT-\d+)/">', html)


@pytest.fixture
def three_lots(lab):
    b12 = lab.lot("Na2B12H12", 5000, supplier="Katchem", lot_number="KC-B12-07", low_stock_threshold_mg=1000)
    b10 = lab.lot("Na2B10H10", 2000, supplier="Katchem", lot_number="KC-B10-02", low_stock_threshold_mg=1500,
                  state="dried")
    sn = lab.lot("Sn", 25000, supplier="Sigma-Aldrich", lot_number="MKCH5512", storage_place="shelf")
    lab.correct(b10, 933.0, note="spilled in the glovebox")
    return b12, b10, sn


def test_the_list_shows_every_lot_of_the_members_projects_with_remaining_stock(logged_in, people, three_lots):
    b12, b10, sn = three_lots
    html = logged_in(people["reader"]).get("/lots/").content.decode()
    assert sorted(ids_in(html)) == sorted(lot.human_id for lot in three_lots)
    row = html.split(f'<a href="/lots/{b10.human_id}/">')[1].split("</tr>")[0]
    assert f"1{THIN}067.0{NBSP}mg" not in row  # 4-digit numbers are not grouped
    assert f"1067.0{NBSP}mg" in row and '<span class="badge badge-low">low</span>' in row  # 2000 − 933 < 1500
    assert f"25{THIN}000.0{NBSP}mg" in html  # the Sn bottle
    assert "3 records" in html
    assert logged_in(people["outsider"]).get("/lots/").content.decode().count('href="/lots/LOT-') == 0


def test_search_matches_every_word_in_the_api_search_fields(logged_in, people, three_lots):
    b12, b10, sn = three_lots
    client = logged_in(people["reader"])
    assert ids_in(client.get("/lots/", {"search": "katchem"}).content.decode()) == [b10.human_id, b12.human_id]
    assert ids_in(client.get("/lots/", {"search": "Katchem B10"}).content.decode()) == [b10.human_id]
    assert ids_in(client.get("/lots/", {"search": "MKCH"}).content.decode()) == [sn.human_id]
    assert "No records match." in client.get("/lots/", {"search": "nothing-like-this"}).content.decode()


def test_the_filters_are_the_api_filter_set(logged_in, people, api, three_lots):
    b12, b10, sn = three_lots
    client = logged_in(people["reader"])
    for query, expected in (
        ({"material": "Na2B10H10"}, [b10]),
        ({"low_stock": "true"}, [b10]),
        ({"low_stock": "false"}, [sn, b12]),
        ({"state": "dried"}, [b10]),
        ({"storage_place": "shelf"}, [sn]),
        ({"material_kind": "anode_active"}, [sn]),
        ({"supplier": "sigma", "search": "Sn"}, [sn]),
    ):
        on_page = ids_in(client.get("/lots/", query).content.decode())
        from_api = [row["id"] for row in api(people["reader"]).get("/api/v1/lots/", query).json()["results"]]
        assert on_page == [lot.human_id for lot in expected], query
        assert sorted(on_page) == sorted(from_api), query


def test_columns_sort_both_ways_and_the_header_says_which(logged_in, people, three_lots):
    b12, b10, sn = three_lots
    client = logged_in(people["reader"])
    html = client.get("/lots/", {"ordering": "remaining"}).content.decode()
    assert ids_in(html) == [b10.human_id, b12.human_id, sn.human_id]  # 1067, 5000, 25000 mg
    header = re.search(r'<th scope="col" class="num" aria-sort="ascending">\s*<a href="([^"]+)"', html)
    assert header and "ordering=-remaining" in header[1]
    descending = client.get("/lots/", {"ordering": "-remaining"}).content.decode()
    assert ids_in(descending) == [sn.human_id, b12.human_id, b10.human_id]
    by_material = client.get("/lots/", {"ordering": "material__name"}).content.decode()
    assert ids_in(by_material) == [b10.human_id, b12.human_id, sn.human_id]
    # An ordering no column offers falls back to the newest first.
    assert ids_in(client.get("/lots/", {"ordering": "quantity_received_mg;drop"}).content.decode()) == [
        sn.human_id, b10.human_id, b12.human_id]


def test_long_lists_come_in_pages_that_keep_the_filters(logged_in, people, lab):
    lots = [lab.lot("Na2B12H12") for _ in range(55)] + [lab.lot("Sn")]
    client = logged_in(people["reader"])
    first = client.get("/lots/", {"material": "Na2B12H12", "ordering": "human_id"}).content.decode()
    assert ids_in(first) == [lot.human_id for lot in lots[:50]]
    assert "55 records, page 1 of 2" in first
    next_link = re.search(r'<a href="\?([^"]+)"[^>]*rel="next"', first)[1].replace("&amp;", "&")
    assert "material=Na2B12H12" in next_link and "page=2" in next_link
    second = client.get(f"/lots/?{next_link}").content.decode()
    assert ids_in(second) == [lot.human_id for lot in lots[50:55]]


def test_htmx_asks_for_the_table_alone(logged_in, people, three_lots):
    client = logged_in(people["reader"])
    part = client.get("/lots/", {"search": "Sn"}, HTTP_HX_REQUEST="true")
    text = part.content.decode()
    assert "<html" not in text and "<table" in text and "1 record" in text
    assert "HX-Request" in part["Vary"]
    # htmx restoring a page from history gets the whole page.
    whole = client.get("/lots/", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in whole.content.decode()


def test_the_page_of_a_lot_shows_its_stock_ledger_and_what_was_made_from_it(logged_in, people, lab):
    b10 = lab.lot("Na2B10H10", 2000, low_stock_threshold_mg=1500, lot_number="KC-B10-02", purity_percent=98.0)
    batch = lab.batch_from((b10, 466.4))
    solution = lab.solution_from((b10, 466.4))
    lab.correct(b10, 12.5, note="weighing check")
    lab.correct(b10, 20.0, kind=StockMovement.Kind.DISPOSAL, note="discoloured")
    html = logged_in(people["reader"]).get(f"/lots/{b10.human_id}/").content.decode()

    assert f"<h1>{b10.human_id} <span" in html
    stock = html.split('id="stock-heading"')[1].split("</section>")[0]
    assert f"2000.0{NBSP}mg" in stock and f"965.3{NBSP}mg" in stock  # 466.4 + 466.4 + 12.5 + 20
    assert f"1034.7{NBSP}mg" in stock and "badge-low" in stock  # 2000 − 965.3 < 1500
    assert f"98{NBSP}%" in html  # purity as entered
    ledger = html.split('id="ledger-heading"')[1].split("</section>")[0]
    left_after = re.findall(r'<td class="num">([^<]+)</td>\s*<td>', ledger)
    assert left_after == [f"{v}{NBSP}mg" for v in ("1533.6", "1067.2", "1054.7", "1034.7")]
    assert "inventory correction" in ledger and "disposed of" in ledger and "discoloured" in ledger
    assert f'<td><a href="/electrolyte-batches/{batch.human_id}/">{batch.human_id}</a></td>' in ledger
    # Lineage: the records made from the lot, as a graph and as a list.
    graph = json.loads(re.search(r'<script id="lot-lineage" type="application/json">(.*?)</script>', html, re.S)[1])
    assert {(e["source"], e["target"], e["relation"]) for e in graph["edges"]} >= {
        (b10.human_id, batch.human_id, "precursor"), (b10.human_id, solution.human_id, "salt")}
    assert next(n for n in graph["nodes"] if n["id"] == b10.human_id)["current"] is True
    downstream = html.split("What was made from it")[1].split("</table>")[0]
    assert batch.human_id in downstream and solution.human_id in downstream


def test_a_lot_made_in_house_shows_what_it_was_made_from(logged_in, people, lab):
    cr2o3, na2co3 = lab.lot("Cr2O3", 100_000), lab.lot("Na2CO3", 100_000)
    nco = lab.lot("NaCrO2", 4800, inputs=[{"lot": cr2o3, "mass_mg": 3552.6}, {"lot": na2co3, "mass_mg": 2477.3}])
    html = logged_in(people["reader"]).get(f"/lots/{nco.human_id}/").content.decode()
    upstream = html.split("<h3>Made from</h3>")[1].split("</table>")[0]
    assert f'<a href="/lots/{cr2o3.human_id}/">{cr2o3.human_id}</a>' in upstream
    assert f'<a href="/lots/{na2co3.human_id}/">{na2co3.human_id}</a>' in upstream and "made from" in upstream
    ledger = logged_in(people["reader"]).get(f"/lots/{cr2o3.human_id}/").content.decode().split(
        'id="ledger-heading"')[1].split("</section>")[0]
    assert f'<a href="/lots/{nco.human_id}/">{nco.human_id}</a>' in ledger  # labels with pages are links


def test_writers_see_edit_controls_and_readers_none(logged_in, people, lab):
    lot = lab.lot()
    for who, controls in (("writer", ["Edit"]), ("manager", ["Edit"]), ("reader", [])):
        html = logged_in(people[who]).get(f"/lots/{lot.human_id}/").content.decode()
        assert re.findall(r'class="button secondary" href="[^"]+">([^<]+)<', html) == controls, who
        listing = logged_in(people[who]).get("/lots/").content.decode()
        assert ("edit-controls" in listing) == bool(controls), who
    people["lab_manager"].is_superuser = True
    people["lab_manager"].save()
    html = logged_in(people["lab_manager"]).get(f"/lots/{lot.human_id}/").content.decode()
    assert f'href="/admin/samples/precursorlot/{lot.pk}/change/">Edit in the admin<' in html
    assert f'href="/lots/{lot.human_id}/edit/">Edit<' in html


def test_a_lot_of_another_project_is_not_found(logged_in, people, lab):
    lot = lab.lot()
    assert logged_in(people["outsider"]).get(f"/lots/{lot.human_id}/").status_code == 404
    assert logged_in(people["reader"]).get("/lots/LOT-9999/").status_code == 404
