"""Every number a person enters is kept within what its measurement can be: a 1e308 mm disc is
refused with the field named, not stored to break the numbers computed from it."""
import pytest
from django.apps import apps
from django.db import models
from simple_history.models import HistoricalChanges

from eln.models import PhysicalRange
from tests.factories import ElectrodeSheetFactory

MEASURED_ELSEWHERE = {"StockMovement.quantity"}  # bounded by the holder's stock


def entered_numbers():
    for app in ("samples", "cells"):
        for model in apps.get_app_config(app).get_models():
            if issubclass(model, HistoricalChanges):
                continue
            for field in model._meta.concrete_fields:
                if isinstance(field, models.FloatField) and f"{model.__name__}.{field.name}" not in MEASURED_ELSEWHERE:
                    yield model, field


def test_every_entered_number_has_a_physical_range():
    fields = list(entered_numbers())
    assert len(fields) > 50
    for model, field in fields:
        assert any(isinstance(v, PhysicalRange) for v in field.validators), f"{model.__name__}.{field.name}"


@pytest.mark.django_db
def test_an_absurd_diameter_is_refused_naming_the_field(api, people, project):
    sheet = ElectrodeSheetFactory(project=project)
    response = api(people["writer"]).post("/api/v1/electrodes/", {
        "project": project.name, "sheet": sheet.human_id, "diameter_mm": 1.18e308}, format="json")
    assert response.status_code == 400
    assert response.json() == {"diameter_mm": ["Ensure this value is at most 1000 mm."]}
    response = api(people["writer"]).post("/api/v1/cells/", {
        "project": project.name, "kind": "full", "stack_pressure_mpa": -3, "parts": []}, format="json")
    assert response.json()["stack_pressure_mpa"] == ["Ensure this value is at least 0 MPa."]


@pytest.mark.django_db
def test_the_largest_disc_allowed_still_has_its_area_as_a_number(api, people, project):
    sheet = ElectrodeSheetFactory(project=project)
    response = api(people["writer"]).post("/api/v1/electrodes/", {
        "project": project.name, "sheet": sheet.human_id, "diameter_mm": 1000, "mass_mg": 5.0}, format="json")
    assert response.status_code == 201, response.content[:300]
    assert response.json()["area_cm2"] == pytest.approx(3.141592653589793 * 50.0 ** 2)  # a 100-cm disc


def test_every_number_set_in_the_analysis_admin_is_bounded():
    """The numbers a lab manager sets (loading references, alert rules) have both bounds."""
    from django.core.validators import MaxValueValidator, MinValueValidator

    for name in ("LoadingReference", "AlertRules"):
        model = apps.get_model("analysis", name)
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.FloatField):
                continue
            kinds = {type(v) for v in field.validators}
            assert PhysicalRange in kinds or {MinValueValidator, MaxValueValidator} <= kinds, f"{name}.{field.name}"
