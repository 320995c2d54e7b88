"""A full cell's page shows the diagnosis of the three-electrode cell it is linked to, and its
fade predicted from the half cells beside what it measured (the demo lab's story)."""
import html
import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(django_capture_on_commit_callbacks):
    from io import StringIO

    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo_lab", username="demo", password="demo", stdout=StringIO())
    from cells.models import Cell

    return {cell.name: cell for cell in Cell.objects.all()}


def text_of(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def test_the_full_cells_page_shows_the_linked_diagnosis_and_its_prediction(client, demo):
    from django.contrib.auth import get_user_model

    from analysis.models import CellDiagnosis, FadePrediction
    from cells.models import Cell

    client.force_login(get_user_model().objects.get(username="demo"))
    full = Cell.objects.get(kind="full", name__contains="N/P 1.20")
    three = Cell.objects.get(kind="three_electrode")
    diagnosis = CellDiagnosis.objects.get(cell=three)
    prediction = FadePrediction.objects.get(cell=full)
    page = text_of(client.get(f"/cells/{full.human_id}/"))
    assert "Three-electrode diagnosis and fade prediction" in page
    assert f"From the three-electrode cell {three.human_id}" in page
    assert diagnosis.sentence in page and "Anode-driven sodium loss" in page and "no overpotential build-up" in page
    assert f"predicted {prediction.predicted_retention * 100:.1f} %, measured {prediction.measured_retention * 100:.1f} %" in page
    assert f"{prediction.difference_pp:.1f} percentage points" in page
    page = text_of(client.get(f"/cells/{three.human_id}/"))
    assert diagnosis.sentence in page and full.human_id in page
