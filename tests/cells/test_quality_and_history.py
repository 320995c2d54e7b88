"""Numbers that say when they cannot be trusted, files that are not cycling data, and one
history per cell, through upload, ingestion, the API and the admin."""
import json

import pyarrow as pa
import pytest

from analysis.core import synthetic
from analysis.demo.cycling import spec_for
from analysis.models import CellMetrics, CycleSummary, LoadingReference
from analysis.services import loading_reference_set
from cells.models import CyclingRun, Dataset
from tests.paths import shared_bytes

pytestmark = pytest.mark.django_db


def status_of(api, user, body):
    return api(user).get(body["status_url"]).json()


def long_term(demo_lab, key="nco95_70mpa", **kwargs):
    cell = demo_lab["cells"][key]
    return synthetic.paper_nacro2_long_term(cell=spec_for(cell, synthetic.nacro2_half_cell(7.0, "95:2:3")),
                                            **kwargs)


def with_counters_scaled(data, factor):
    table = data.table
    for name in ("charge_capacity_mah", "discharge_capacity_mah"):
        index = table.column_names.index(name)
        table = table.set_column(index, name, pa.array(table.column(name).to_numpy() * factor))
    return table


# --------------------------------------------------------------------------- warnings


def test_counters_one_percent_from_the_integral_end_done_with_warnings(demo_lab, upload, api, demo_user):
    data = synthetic.paper_nacro2_rate_test("97:1:2", cell=spec_for(
        demo_lab["cells"]["nco97_half"], synthetic.nacro2_half_cell(7.7, "97:1:2")), cycler_counters=True)
    content = synthetic.to_bdf_csv(with_counters_scaled(data, 1.01))
    body = upload(demo_lab["runs"]["nco97_half"], "rate.bdf.csv", content).json()
    status = status_of(api, demo_user, body)
    assert status["state"] == "done_with_warnings"
    assert status["message"] == "done with 42 warnings" and status["warnings"] == 42  # 21 cycles × 2
    assert [s["state"] for s in status["stages"]] == ["done"] * 4
    cycles = api(demo_user).get(f"/api/v1/datasets/{body['dataset']}/cycles/").json()
    assert (cycles["state"], cycles["warnings"]) == ("done_with_warnings", 42)
    first = cycles["results"][0]
    assert first["capacity_source"] == "counter"
    flags = {flag["half"]: flag for flag in first["flags"]}
    charge = flags["charge"]
    assert (charge["cycle_number"], charge["code"], charge["limit"]) == (1, "counter_integral_mismatch", 0.005)
    assert charge["details"]["counter"] == pytest.approx(first["charge_capacity_counter_mah"])
    assert charge["details"]["integral"] == pytest.approx(first["charge_capacity_integral_mah"])
    assert charge["value"] == pytest.approx(1 / 1.01 - 1, abs=1e-6)
    assert f"{first['charge_capacity_counter_mah']:.6g}" in charge["message"]
    assert "tolerance ±0.5 %" in charge["message"]
    assert first["n_warnings"] == 2
    # the metrics computed from flagged cycles say so
    metrics = api(demo_user).get(f"/api/v1/cells/{demo_lab['cells']['nco97_half'].human_id}/metrics/").json()
    assert metrics["values"]["rate_capability"]["warnings"]
    assert "computed from flagged cycles" in metrics["values"]["first_cycle_efficiency"]["details"]["warning"]
    # only flagged cycles, on request
    flagged = api(demo_user).get(f"/api/v1/datasets/{body['dataset']}/cycles/", {"flagged": "true"}).json()
    assert flagged["count"] == 21


@pytest.mark.parametrize("damage", ["inf voltage", "1e308 current"])
def test_a_file_with_a_non_finite_value_is_neither_silently_done_nor_a_500(demo_lab, upload, api, demo_user,
                                                                           damage):
    data = long_term(demo_lab)
    lines = synthetic.to_bdf_csv(data.table.slice(0, 6000)).decode().split("\n")
    fields = lines[900].split(",")
    if damage == "inf voltage":
        fields[1] = "inf"
    else:
        fields[2] = "1e308"
    lines[900] = ",".join(fields)
    body = upload(demo_lab["runs"]["nco95_70mpa"], "damaged.bdf.csv", "\n".join(lines).encode()).json()
    status = status_of(api, demo_user, body)
    assert status["state"] == "done_with_warnings", status
    client = api(demo_user)
    cycles = client.get(f"/api/v1/datasets/{body['dataset']}/cycles/")
    assert cycles.status_code == 200
    json.loads(cycles.content, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    codes = {flag["code"] for row in cycles.json()["results"] for flag in row["flags"]}
    assert "missing_values" in codes
    data_answer = client.get(f"/api/v1/datasets/{body['dataset']}/data/", {"cycles": "1"})
    assert data_answer.status_code == 200
    values = json.loads(data_answer.content, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    column = "voltage_v" if damage == "inf voltage" else "current_ma"
    assert None in values["columns"][column]
    dataset = Dataset.objects.get(human_id=body["dataset"])
    assert dataset.file_metadata["missing_values"][column]["first_row"] == 900


def test_the_flags_are_in_the_admin(demo_lab, upload, client, demo_user):
    data = long_term(demo_lab, cycler_counters=True)
    upload(demo_lab["runs"]["nco95_70mpa"], "c.bdf.csv", synthetic.to_bdf_csv(with_counters_scaled(data, 1.01)))
    client.force_login(demo_user)
    page = client.get("/admin/analysis/qualityflag/", {"code": "counter_integral_mismatch"})
    assert page.status_code == 200
    assert "the cycler&#x27;s counter gives" in page.content.decode()
    summaries = client.get("/admin/analysis/cyclesummary/")
    assert summaries.status_code == 200 and "Warnings" in summaries.content.decode()
    dataset = Dataset.objects.get()
    detail = client.get(f"/admin/cells/dataset/{dataset.pk}/change/")
    assert detail.status_code == 200 and "done with 204 warnings" in detail.content.decode()


# --------------------------------------------------------------------------- kinds of measurement


def test_an_impedance_file_leaves_the_cells_metrics_as_they_were(demo_lab, upload, api, demo_user):
    run = demo_lab["runs"]["nco95_70mpa"]
    cell = demo_lab["cells"]["nco95_70mpa"]
    upload(run, "cycling.bdf.csv", synthetic.to_bdf_csv(long_term(demo_lab).table))
    before = CellMetrics.objects.get(cell=cell)
    body = upload(run, "peis.mpr", shared_bytes("biologic_mpr/peis.mpr")).json()
    status = status_of(api, demo_user, body)
    assert (status["state"], status["measurement_kind"]) == ("done", "impedance")
    assert [(s["name"], s["state"]) for s in status["stages"]] == [
        ("read", "done"), ("cycles", "skipped"), ("summary", "skipped"), ("metrics", "skipped")]
    assert status["stages"][1]["message"].startswith("impedance spectroscopy (it holds an impedance spectrum")
    after = CellMetrics.objects.get(cell=cell)
    assert after.values == before.values
    assert after.dataset == before.dataset and after.dataset.source_name == "cycling.bdf.csv"
    assert after.left_out == [{"dataset": body["dataset"], "run": run.human_id,
                               "reason": "impedance spectroscopy: not cycling data"}]
    assert not CycleSummary.objects.filter(dataset__human_id=body["dataset"]).exists()
    spectrum = api(demo_user).get(f"/api/v1/datasets/{body['dataset']}/spectrum/").json()
    (sweep,) = spectrum["sweeps"]
    assert sweep["n_points"] == 32 and sweep["freq_hz"][0] == pytest.approx(199998.14, rel=1e-6)
    assert set(sweep) >= {"re_z_ohm", "minus_im_z_ohm", "abs_z_ohm", "phase_z_deg"}
    assert spectrum["units"]["re_z_ohm"] == "Ω"
    # a cycling dataset has none, and says so
    cycling = Dataset.objects.get(source_name="cycling.bdf.csv")
    none = api(demo_user).get(f"/api/v1/datasets/{cycling.human_id}/spectrum/")
    assert none.status_code == 404 and "holds no impedance spectrum" in none.json()["detail"]


def test_a_maccor_eis_file_without_its_spectrum_says_where_the_spectrum_is(demo_lab, upload, api, demo_user):
    body = upload(demo_lab["runs"]["nco95_70mpa"], "maccor.041",
                  shared_bytes("maccor_txt/maccor_test_file_4267-66-6519.041")).json()
    assert status_of(api, demo_user, body)["measurement_kind"] == "impedance"
    answer = api(demo_user).get(f"/api/v1/datasets/{body['dataset']}/spectrum/")
    assert answer.status_code == 404
    assert "companion file of the cycler" in answer.json()["detail"]


METADATA_CSV = (",test_id,device_id,iv_ch_id,first_start_datetime,schedule_file_name,item_id\n"
                "0,153,60369369,7,1494645214,2017-05-12_TESTS\\4C-80PER.SDU,EL150800453116\n")


def test_an_arbin_metadata_companion_attaches_to_its_dataset(demo_lab, upload, api, demo_user):
    run = demo_lab["runs"]["nco95_70mpa"]
    data = synthetic.to_bdf_csv(long_term(demo_lab).table.slice(0, 3000))
    # the companion first: it waits for its data file
    first = upload(run, "FastCharge_CH8_Metadata.csv", METADATA_CSV.encode()).json()
    companion = status_of(api, demo_user, first)
    assert (companion["state"], companion["measurement_kind"]) == ("done", "companion")
    assert companion["stages"][0]["message"] == (
        "the settings of FastCharge_CH8, not data points: attached to the dataset of FastCharge_CH8 when "
        "that file arrives")
    assert [s["state"] for s in companion["stages"][1:]] == ["skipped"] * 3
    data_body = upload(run, "FastCharge_CH8.csv", data).json()
    dataset = Dataset.objects.get(human_id=data_body["dataset"])
    assert dataset.measurement_kind == "cycling"
    attached = dataset.file_metadata["companion"]
    assert attached["dataset"] == first["dataset"] and attached["settings"]["iv_ch_id"] == 7
    assert attached["settings"]["first_start_datetime"] == "2017-05-13T03:13:34"


# --------------------------------------------------------------------------- the cell's history


def test_a_cell_cycled_in_two_runs_has_one_history(demo_lab, upload, api, demo_user):
    cell = demo_lab["cells"]["nco95_70mpa"]
    first_run = demo_lab["runs"]["nco95_70mpa"]
    data = long_term(demo_lab, cycler_counters=True)
    from analysis.core.cycling import analyse_cycling

    split = int(analyse_cycling(data.table, **data.analysis_kwargs()).summary.column("end_row")[39].as_py()) + 1
    second_run = CyclingRun.objects.create(project=first_run.project, cell=cell, protocol=first_run.protocol,
                                           channel=first_run.channel, state="finished",
                                           started_at=first_run.started_at)
    # the second half arrives first: the history follows the data's time, not the upload order
    second = upload(second_run, "after-the-move.bdf.csv", synthetic.to_bdf_csv(data.table.slice(split))).json()
    first = upload(first_run, "before-the-move.bdf.csv", synthetic.to_bdf_csv(data.table.slice(0, split))).json()
    Dataset.objects.filter(human_id=second["dataset"]).update(
        data_started_at=Dataset.objects.get(human_id=first["dataset"]).created_at)
    Dataset.objects.filter(human_id=first["dataset"]).update(
        data_started_at=Dataset.objects.get(human_id=first["dataset"]).created_at.replace(year=2020))
    from analysis.services import compute_cell_metrics

    compute_cell_metrics(cell)
    client = api(demo_user)
    history = client.get(f"/api/v1/cells/{cell.human_id}/cycles/").json()
    assert history["count"] == 102
    assert [r["history_cycle_number"] for r in history["results"]] == list(range(1, 103))
    assert [(r["dataset"], r["cycle_number"]) for r in history["results"][39:41]] == [
        (first["dataset"], 40), (second["dataset"], 1)]
    assert history["results"][40]["run"] == second_run.human_id
    metrics = client.get(f"/api/v1/cells/{cell.human_id}/metrics/").json()
    assert metrics["sources"] == [
        {"dataset": first["dataset"], "run": first_run.human_id, "cycles": [1, 40], "history_cycles": [1, 40],
         "complete_cycles": 40},
        {"dataset": second["dataset"], "run": second_run.human_id, "cycles": [1, 62],
         "history_cycles": [41, 102], "complete_cycles": 62}]
    retention = metrics["values"]["retention"]
    assert round(100 * retention["value"], 1) == 95.6
    assert (retention["params"]["cycle"], retention["params"]["ref_cycle"]) == (102, 3)

    # leaving the second run's dataset out recomputes the metrics over the first alone
    refused = client.post(f"/api/v1/datasets/{second['dataset']}/leave-out/", {"reason": "  "}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()
    left = client.post(f"/api/v1/datasets/{second['dataset']}/leave-out/",
                       {"reason": "the channel's thermocouple failed"}, format="json")
    assert left.status_code == 200, left.json()
    assert (left.json()["excluded_from_history"], left.json()["exclusion_reason"]) == (
        True, "the channel's thermocouple failed")
    from analysis.services import recompute_cell

    recompute_cell(cell.pk)  # what the queued task does after the commit
    metrics = client.get(f"/api/v1/cells/{cell.human_id}/metrics/").json()
    assert [s["dataset"] for s in metrics["sources"]] == [first["dataset"]]
    assert metrics["left_out"] == [{"dataset": second["dataset"], "run": second_run.human_id,
                                    "reason": "left out: the channel's thermocouple failed"}]
    assert metrics["values"]["retention"]["params"]["cycle"] == 40
    assert client.get(f"/api/v1/cells/{cell.human_id}/cycles/").json()["count"] == 40
    assert not CycleSummary.objects.filter(dataset__human_id=second["dataset"],
                                           history_cycle_number__isnull=False).exists()
    back = client.post(f"/api/v1/datasets/{second['dataset']}/include/")
    assert back.status_code == 200 and back.json()["excluded_from_history"] is False
    recompute_cell(cell.pk)
    assert client.get(f"/api/v1/cells/{cell.human_id}/cycles/").json()["count"] == 102


def test_leaving_a_dataset_out_queues_the_recompute_and_readers_may_not(demo_lab, upload, api, demo_user,
                                                                        people, django_capture_on_commit_callbacks):
    body = upload(demo_lab["runs"]["nco95_70mpa"], "c.bdf.csv",
                  synthetic.to_bdf_csv(long_term(demo_lab).table)).json()
    from analysis import tasks

    calls = []
    original = tasks.recompute_cell.delay
    tasks.recompute_cell.delay = lambda cell_id: calls.append(cell_id)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = api(demo_user).post(f"/api/v1/datasets/{body['dataset']}/leave-out/",
                                           {"reason": "duplicate of the .mpr"}, format="json")
    finally:
        tasks.recompute_cell.delay = original
    assert response.status_code == 200
    assert calls == [demo_lab["cells"]["nco95_70mpa"].pk]
    from eln.models import ProjectMembership

    ProjectMembership.objects.create(project=demo_lab["project"], user=people["reader"], role="reader")
    denied = api(people["reader"]).post(f"/api/v1/datasets/{body['dataset']}/include/")
    assert denied.status_code == 403
    assert api(demo_user).post("/api/v1/datasets/", {}).status_code == 405


# --------------------------------------------------------------------------- the lab's definitions


def test_a_lab_reference_for_full_cells_makes_their_loading_check_apply(demo_lab, upload, api, demo_user):
    cell = demo_lab["cells"]["full"]
    data = synthetic.paper_full_cell(cell=spec_for(cell, synthetic.full_cell()))
    upload(demo_lab["runs"]["full"], "full.bdf.csv", synthetic.to_bdf_csv(data.table))
    check = CellMetrics.objects.get(cell=cell).values["loading_check"]
    assert check["value"] == "not checked"
    assert check["details"]["reason"] == ("not checked: no loading reference is set for full cells (a lab "
                                          "manager can set one per kind of cell)")
    loading_reference_set(user=demo_user, kind="full", specific_capacity_mah_g=113.0,
                          note="NaCrO2's measured reversible capacity in the half cells at 0.1C")
    from analysis.services import recompute_cell

    recompute_cell(cell.pk)
    check = CellMetrics.objects.get(cell=cell).values["loading_check"]
    assert check["value"] == "ok"  # 110 mAh/g against 113: −2.7 %
    assert "the lab's reference for full cells" in check["details"]["reason"]
    assert LoadingReference.objects.get(kind="full").history.count() == 1
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="practical reference capacity"):
        loading_reference_set(user=demo_user, kind="cathode_half", specific_capacity_mah_g=120.0)


def test_the_demo_lab_reports_sn_retention_on_sodiation_and_no_cell_suspect_by_a_wrong_rule(
        demo_lab, django_capture_on_commit_callbacks):
    from analysis.demo.cycling import load_demo_cycling_data

    with django_capture_on_commit_callbacks(execute=True):
        datasets = load_demo_cycling_data(demo_lab)
    assert {d.human_id: Dataset.objects.get(pk=d.pk).state for d in datasets} == {
        d.human_id: "done" for d in datasets}
    sn = CellMetrics.objects.get(cell=demo_lab["cells"]["sn_half"]).values
    assert round(100 * sn["retention"]["value"], 1) == 92.1
    assert sn["retention"]["params"]["basis"] == "sodiation"
    assert sn["retention"]["details"]["column"] == "discharge_capacity_mah"
    assert round(100 * sn["retention_on_desodiation"]["value"], 1) == 93.2
    assert sn["rate_capability"]["params"]["basis"] == "sodiation"
    verdicts = {m.cell.name: (m.loading_check, m.values["loading_check"]["details"]["reason"])
                for m in CellMetrics.objects.select_related("cell")}
    assert "suspect" not in {verdict for verdict, _reason in verdicts.values()}, verdicts
    for metrics in CellMetrics.objects.select_related("cell"):
        verdict, reason = metrics.loading_check, metrics.values["loading_check"]["details"]["reason"]
        if metrics.cell.kind == "cathode_half":
            assert verdict == "ok" and "the practical reference capacity of NaCrO2" in reason
        else:
            assert verdict == "not checked" and "no loading reference is set for" in reason


@pytest.mark.django_db(transaction=True)
def test_with_tasks_in_process_the_upload_answers_with_the_state_processing_reached(demo_lab, api, demo_user):
    """No broker: the ingestion runs when the upload commits, before the answer is written."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = long_term(demo_lab, cycler_counters=True)
    content = synthetic.to_bdf_csv(with_counters_scaled(data, 1.01))
    response = api(demo_user).post(f"/api/v1/cycling-runs/{demo_lab['runs']['nco95_70mpa'].human_id}/raw-files/",
                                   {"file": SimpleUploadedFile("c.bdf.csv", content)}, format="multipart")
    body = response.json()
    assert response.status_code == 202
    assert (body["state"], body["message"]) == ("done_with_warnings", "done with 204 warnings")
    assert [s["state"] for s in body["stages"]] == ["done"] * 4


def test_leaving_out_with_nasty_reasons_never_answers_500(demo_lab, upload, api, demo_user):
    body = upload(demo_lab["runs"]["nco95_70mpa"], "c.bdf.csv",
                  synthetic.to_bdf_csv(long_term(demo_lab).table.slice(0, 3000))).json()
    client = api(demo_user)
    for payload in ({}, [], "text", {"reason": None}, {"reason": ""}, {"reason": "x" * 5000},
                    {"reason": "\x00🔋"}, {"reason": ["a"]}, {"reason": {"a": 1}}, {"reason": 1e308}):
        response = client.post(f"/api/v1/datasets/{body['dataset']}/leave-out/", payload, format="json")
        assert response.status_code < 500, (payload, response.content[:300])
    assert client.get(f"/api/v1/datasets/{body['dataset']}/spectrum/").status_code == 404
    assert client.get("/api/v1/cells/CELL-9999/cycles/").status_code == 404
