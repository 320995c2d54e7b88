"""Child rows are matched by their natural key on update: a row not changed keeps its id, its
history and its ledger line; a changed row is changed in place."""
import pytest

from samples.models import StockMovement
from tests.factories import CellFactory, ElectrodeSheetFactory, lot

pytestmark = pytest.mark.django_db


def rows_of(body, name, drop=()):
    return [{k: v for k, v in row.items() if k not in drop} for row in body[name]]


def test_an_edit_of_one_disc_leaves_the_components_and_their_ledger_lines_alone(api, people, project):
    sheet = ElectrodeSheetFactory(project=project, components=[
        {"lot": lot(project, "NaCrO2"), "role": "active", "mass_fraction_percent": 95, "mass_mg": 950},
        {"lot": lot(project, "PVDF"), "role": "binder", "mass_fraction_percent": 2, "mass_mg": 20},
        {"lot": lot(project, "Super P"), "role": "conductive_carbon", "mass_fraction_percent": 3, "mass_mg": 30},
    ])
    components = {c.pk: c.history.count() for c in sheet.components.all()}
    discs = list(sheet.loading_discs.order_by("pk"))
    lines = set(StockMovement.objects.values_list("pk", "quantity"))
    client = api(people["writer"])
    body = client.get(f"/api/v1/electrode-sheets/{sheet.human_id}/").json()
    loading = rows_of(body, "loading_discs", drop=("coating_loading_mg_cm2", "area_cm2"))
    loading[2]["mass_mg"] = 13.05
    response = client.patch(f"/api/v1/electrode-sheets/{sheet.human_id}/", {
        "components": rows_of(body, "components"), "loading_discs": loading}, format="json")
    assert response.status_code == 200, response.json()
    assert {c.pk: c.history.count() for c in sheet.components.all()} == components  # untouched
    assert set(StockMovement.objects.values_list("pk", "quantity")) == lines
    after = list(sheet.loading_discs.order_by("pk"))
    assert [d.pk for d in after] == [d.pk for d in discs]
    assert [d.mass_mg for d in after] == [12.91, 12.91, 13.05, 12.91]
    assert after[2].history.count() == 2 and after[0].history.count() == 1


def test_a_changed_mass_updates_its_ledger_line_in_place(api, people, project):
    pvdf = lot(project, "PVDF", 1000)
    sheet = ElectrodeSheetFactory(project=project, components=[
        {"lot": lot(project, "NaCrO2"), "role": "active", "mass_fraction_percent": 95, "mass_mg": 950},
        {"lot": pvdf, "role": "binder", "mass_fraction_percent": 5, "mass_mg": 50},
    ])
    line = StockMovement.objects.get(lot=pvdf)
    client = api(people["writer"])
    body = client.get(f"/api/v1/electrode-sheets/{sheet.human_id}/").json()
    components = rows_of(body, "components")
    components[1]["mass_mg"] = 55
    assert client.patch(f"/api/v1/electrode-sheets/{sheet.human_id}/", {"components": components},
                        format="json").status_code == 200
    assert list(StockMovement.objects.filter(lot=pvdf).values_list("pk", "quantity")) == [(line.pk, 55)]
    # a row left out is removed and gives its stock back
    assert client.patch(f"/api/v1/electrode-sheets/{sheet.human_id}/", {"components": [
        {**components[0], "mass_fraction_percent": 100}]}, format="json").status_code == 200
    assert not StockMovement.objects.filter(lot=pvdf).exists()


def test_the_same_parts_sent_again_change_nothing(api, people, project):
    cell = CellFactory(project=project)
    parts = {p.pk: p.history.count() for p in cell.parts.all()}
    client = api(people["writer"])
    body = client.get(f"/api/v1/cells/{cell.human_id}/").json()
    assert client.patch(f"/api/v1/cells/{cell.human_id}/", {"parts": body["parts"]}, format="json").status_code == 200
    assert {p.pk: p.history.count() for p in cell.parts.all()} == parts
    assert cell.history.count() == 1  # nothing changed, nothing recorded
