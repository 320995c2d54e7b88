"""The three-electrode results on a cell's page: a three-electrode cell's diagnosis, the
diagnosis of the three-electrode cells a full cell is linked to, and the full cell's fade
predicted from its half cells beside what it measured."""
from __future__ import annotations

from analysis.electrodes import linked_full_cells, linked_three_electrode_cells
from analysis.models import CellDiagnosis, FadePrediction
from cells.models import Cell
from eln.permissions import visible_projects
from eln.record_sections import Section



def _shared_text(shared: list[dict]) -> str:
    return ", ".join(f"{item['relation']} {item['record']}" for item in shared)


def diagnosis_section(request, record) -> Section | None:
    """Which electrode limits, why the capacity goes, and what the half cells predicted."""
    if not isinstance(record, Cell) or record.kind not in Cell.BALANCED_KINDS:
        return None
    visible = set(visible_projects(request.user).values_list("pk", flat=True))
    diagnoses, links = [], []
    if record.kind == Cell.Kind.THREE_ELECTRODE:
        own = CellDiagnosis.objects.filter(cell=record).select_related("dataset").first()
        if own is not None:
            diagnoses.append(own)
        links = [(cell, _shared_text(shared)) for cell, shared in linked_full_cells(record)
                 if cell.project_id in visible]
    else:
        linked = [(cell, shared) for cell, shared in linked_three_electrode_cells(record) if cell.project_id in visible]
        found = {d.cell_id: d for d in CellDiagnosis.objects.filter(cell__in=[c.pk for c, _ in linked])
                 .select_related("cell", "dataset")}
        diagnoses = [found[cell.pk] for cell, _ in linked if cell.pk in found]
        links = [(cell, _shared_text(shared)) for cell, shared in linked]
    prediction = (FadePrediction.objects.filter(cell=record)
                  .select_related("positive_half_cell", "negative_half_cell", "measured_dataset").first())
    return Section("diagnosis", "Three-electrode diagnosis and fade prediction", "analysis/_section_diagnosis.html", {
        "three_electrode": record.kind == Cell.Kind.THREE_ELECTRODE, "diagnoses": diagnoses, "links": links,
        "prediction": prediction,
    })
