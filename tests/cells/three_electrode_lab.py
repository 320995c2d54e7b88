"""Three-electrode cells in the demo lab for the tests: new cells built from the full cells'
sheets, the reference half cells' slow cycles uploaded, the tasks a change sent to the broker."""
import ast
import datetime as dt

from django.core.files.uploadedfile import SimpleUploadedFile

from analysis.core import synthetic_three_electrode as s3
from analysis.demo.three_electrode import demo_cell, reference_file
from analysis.tasks import ingest_dataset
from cells.models import Cell, Dataset
from cells.services import cell_build, cycling_run_start
from eln.celery import app
from samples.services import electrode_punch


def upload_references(demo_lab, upload):
    """The NaCrO2 and Sn half cells built from the full cells' sheets, cycled at C/20."""
    for key, electrode in (("nco_reference", "positive"), ("sn_reference", "negative")):
        run = demo_lab["runs"][key]
        assert upload(run, f"{key}.mpt", reference_file(run, electrode)).status_code == 202


def new_three_electrode_cell(demo_lab, name: str):
    """(cell, run): a three-electrode cell pressed from fresh electrodes of the demo's full-cell
    sheets, on the demo's three-electrode protocol."""
    user, project = demo_lab["user"], demo_lab["project"]
    template = demo_lab["cells"]["three_electrode"]
    parts = []
    for role in ("positive", "negative"):
        model = template.electrode_in_role(role).electrode
        electrode = electrode_punch(user=user, project=project, sheet=model.sheet, diameter_mm=model.diameter_mm,
                                    mass_mg=model.mass_mg)
        parts.append({"role": role, "electrode": electrode})
    parts.append({"role": "reference", "description": "Na metal reference"})
    cell = cell_build(user=user, project=project, name=name, kind=Cell.Kind.THREE_ELECTRODE,
                      lower_cutoff_v=1.5, upper_cutoff_v=3.3, np_basis=Cell.NpBasis.MEASURED,
                      negative_capacity_for_np_mah_g=634.0, positive_capacity_for_np_mah_g=113.0, parts=parts)
    run = cycling_run_start(user=user, project=project, cell=cell, protocol=demo_lab["protocols"]["three_electrode"],
                            state="finished", started_at=dt.datetime(2026, 11, 2, 17, tzinfo=dt.timezone.utc))
    return cell, run


def simulate(cell, degradation, *, n_cycles=12, noise_v=0.001, seed=7):
    return s3.simulate(demo_cell(cell), degradation, n_cycles=n_cycles, potential_noise_v=noise_v, seed=seed)


def labelled(queued) -> list[tuple[str, str]]:
    """(task, cell label) of the tasks sent to the broker (``sent_to_broker``'s ``queued()``)."""
    out = []
    for name, args in queued:
        (cell_id,) = ast.literal_eval(args)
        out.append((name.rsplit(".", 1)[-1], Cell.objects.get(pk=cell_id).human_id))
    return sorted(out)


def run_queued(queued) -> None:
    """Run the tasks that were sent to the broker, here, as a worker would."""
    for name, args in queued:
        app.tasks[name].apply(args=ast.literal_eval(args))


def upload_not_ingested(capture, client, run, name, content) -> Dataset:
    """A file uploaded whose ingestion the test runs itself (see :func:`ingest`)."""
    with capture():  # the ingestion it queues is left out
        response = client.post(f"/api/v1/cycling-runs/{run.human_id}/raw-files/",
                                {"file": SimpleUploadedFile(name, content)}, format="multipart")
    assert response.status_code == 202, response.content
    return Dataset.objects.get(human_id=response.json()["dataset"])


def ingest(dataset: Dataset) -> str:
    return ingest_dataset.apply(args=(dataset.pk, dataset.raw_file_id)).get()
