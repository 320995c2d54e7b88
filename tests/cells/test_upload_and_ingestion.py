"""A cycler's file from upload to per-cycle summary, as the researcher and the cycler see it."""
import io

import pyarrow.parquet as pq
import pytest

from analysis.models import ProcessingStage
from cells.services import cycler_token_issue
from cells.models import CyclerToken, Dataset, RawDataFile
from tests.paths import shared_bytes

pytestmark = pytest.mark.django_db


def stages(dataset):
    return {s.name: (s.state, s.message) for s in dataset.stages.all()}


def canonical(dataset):
    with dataset.parquet_file.open("rb") as handle:
        return pq.read_table(io.BytesIO(handle.read()))


def test_upload_answers_202_and_the_status_reaches_done(demo_lab, upload, api, demo_user):
    run = demo_lab["runs"]["nco95_70mpa"]
    response = upload(run, "gcpl.issue_211.mpt", shared_bytes("biologic_mpt/gcpl.issue_211.mpt"))
    assert response.status_code == 202
    body = response.json()
    assert body["created"] is True and body["dataset"].startswith("DS-")
    assert body["raw_file"]["sha256"] == "7d18582f97bd5f7ca322dafc641771b2bf23914623f6853c93c156fb25c2b2bf"
    assert response["Location"] == body["status_url"]

    status = api(demo_user).get(body["status_url"]).json()
    assert status["state"] == "done"
    assert [(s["name"], s["state"]) for s in status["stages"]] == [
        ("read", "done"), ("cycles", "done"), ("summary", "done"), ("metrics", "done")]
    assert status["reader"] == {"name": "biologic-mpt", "version": "1.0"}
    assert status["row_count"] == 2767
    dataset = Dataset.objects.get(human_id=body["dataset"])
    assert dataset.parquet_file.name.endswith("gcpl.issue_211.mpt.parquet")
    assert dataset.cycles.filter(complete=True).count() == 5


def test_the_same_bytes_again_give_the_same_record_and_queue_nothing(demo_lab, upload):
    run = demo_lab["runs"]["nco95_70mpa"]
    content = shared_bytes("biologic_mpt/gcpl.issue_149.mpt")
    first = upload(run, "gcpl.issue_149.mpt", content).json()
    again = upload(run, "renamed-copy.mpt", content)
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["dataset"] == first["dataset"] and again.json()["raw_file"] == first["raw_file"]
    assert RawDataFile.objects.count() == 1
    assert ProcessingStage.objects.get(dataset__human_id=first["dataset"], name="read").attempts == 1


def test_ec_lab_counters_agree_with_the_summary_and_mpr_with_mpt(demo_lab, upload):
    """Per-cycle capacities within 0.1 % of EC-Lab's own Q charge / Q discharge counters."""
    upload(demo_lab["runs"]["nco95_70mpa"], "gcpl.issue_211.mpt", shared_bytes("biologic_mpt/gcpl.issue_211.mpt"))
    upload(demo_lab["runs"]["nco95_3mpa"], "gcpl.issue_211.mpr", shared_bytes("biologic_mpr/gcpl.issue_211.mpr"))
    mpt, mpr = Dataset.objects.get(source_name__endswith=".mpt"), Dataset.objects.get(source_name__endswith=".mpr")
    table = canonical(mpt)
    charge_counter = table["charge_capacity_mah"].to_numpy()
    discharge_counter = table["discharge_capacity_mah"].to_numpy()
    for cycle in mpt.cycles.filter(complete=True):
        rows = slice(cycle.start_row, cycle.end_row + 1)
        assert cycle.charge_capacity_mah == pytest.approx(charge_counter[rows].max(), rel=1e-3)
        assert cycle.discharge_capacity_mah == pytest.approx(discharge_counter[rows].max(), rel=1e-3)
    fields = ("cycle_number", "complete", "charge_capacity_mah", "discharge_capacity_mah", "start_row", "end_row")
    from_mpt = list(mpt.cycles.values_list(*fields))
    from_mpr = list(mpr.cycles.values_list(*fields))
    assert len(from_mpt) == len(from_mpr) == 5
    for a, b in zip(from_mpt, from_mpr):
        assert a[:2] == b[:2] and a[4:] == b[4:]
        assert a[2] == pytest.approx(b[2], rel=1e-6) and a[3] == pytest.approx(b[3], rel=1e-6)


def test_neware_cycle_rows_agree_with_the_summary(demo_lab, upload):
    """The BTSDA export's own cycle rows against the capacities computed from its records."""
    upload(demo_lab["runs"]["nco97_half"], "nw_regular_export_ife_example.csv",
           shared_bytes("neware_csv/nw_regular_export_ife_example.csv"))
    dataset = Dataset.objects.get()
    assert dataset.state == "done", stages(dataset)
    vendor = {row["cycle_index"]: row for row in dataset.file_metadata["vendor_cycle_summary"]}
    cycle_index = canonical(dataset)["cycle_index"].to_numpy()
    checked = 0
    for cycle in dataset.cycles.filter(complete=True):
        # The vendor's cycle that holds the end of this cycle's discharge.
        row = vendor[int(cycle_index[cycle.end_row])]
        assert cycle.discharge_capacity_mah == pytest.approx(row["discharge_capacity_mah"], rel=1e-3)
        checked += 1
    assert checked >= 19


def test_every_shared_cycler_file_is_ingested(demo_lab, upload):
    files = [
        "biologic_mpr/gcpl.issue_211.mpr", "biologic_mpr/peis.mpr", "biologic_mpt/gcpl.issue_211.mpt",
        "biologic_mpt/peis.mpt", "biologic_mpt/gcpl.issue_149.mpt", "neware_nda/TestFile.nda",
        "neware_nda/new_nda_file.nda", "neware_ndax/test.ndax", "neware_csv/nw_regular_export_ife_example.csv",
        "arbin_res/arbin_example.res", "arbin_xlsx/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx",
        "arbin_csv/sample_data_arbin.csv", "maccor_txt/PredictionDiagnostics_000109_tztest.010",
        "maccor_txt/maccor_test_file_4267-66-6519.041",
        "generic_csv/SINTEF__LiGrR2032__2024-04-30__25degC__Landt.bdf.csv",
    ]
    run = demo_lab["runs"]["nco97_half"]
    for relative in files:
        response = upload(run, relative.split("/")[1], shared_bytes(relative))
        assert response.status_code == 202, (relative, response.json())
    impedance = {"peis.mpr", "peis.mpt", "maccor_test_file_4267-66-6519.041"}
    for dataset in Dataset.objects.all():
        assert stages(dataset)["read"] == ("done", ""), dataset.source_name
        assert dataset.state in ("done", "done_with_warnings"), (dataset.source_name, stages(dataset))
        assert dataset.warning_count == dataset.quality_flags.count()
        if dataset.source_name in impedance:
            assert dataset.measurement_kind == "impedance"
            assert not dataset.cycles.exists()
            assert {name: state for name, (state, _m) in stages(dataset).items()} == {
                "read": "done", "cycles": "skipped", "summary": "skipped", "metrics": "skipped"}
            assert "no cycles are computed from it" in stages(dataset)["cycles"][1]
        else:
            assert dataset.measurement_kind == "cycling", dataset.source_name


def test_a_grown_file_supersedes_the_earlier_version_and_extends_the_cycles(demo_lab, upload):
    run = demo_lab["runs"]["nco95_70mpa"]
    lines = shared_bytes("biologic_mpt/gcpl.issue_211.mpt").split(b"\n")
    first_part = b"\n".join(lines[:80 + 1200]) + b"\n"  # header (80 lines) and the first 1200 points
    early = upload(run, "cell.mpt", first_part).json()
    dataset = Dataset.objects.get(human_id=early["dataset"])
    early_cycles = {c.cycle_number: c.discharge_capacity_mah for c in dataset.cycles.filter(complete=True)}
    assert 1 <= len(early_cycles) < 5

    grown = upload(run, "cell.mpt", b"\n".join(lines)).json()
    assert grown["created"] is True and grown["dataset"] == early["dataset"]
    assert Dataset.objects.filter(run=run).count() == 1
    dataset.refresh_from_db()
    assert dataset.raw_file.supersedes.sha256 == early["raw_file"]["sha256"]
    assert dataset.raw_file.supersedes.file.storage.exists(dataset.raw_file.supersedes.file.name)  # kept
    cycles = {c.cycle_number: c.discharge_capacity_mah for c in dataset.cycles.filter(complete=True)}
    assert len(cycles) == 5
    for number, capacity in early_cycles.items():
        assert cycles[number] == capacity  # the earlier complete cycles were kept, not recomputed

    # and the result equals ingesting the whole file at once
    other = demo_lab["runs"]["nco95_3mpa"]
    upload(other, "whole.mpt", b"\n".join(lines) + b"\n")
    whole = Dataset.objects.get(run=other)
    assert [round(c.discharge_capacity_mah, 9) for c in whole.cycles.filter(complete=True)] == \
        [round(cycles[n], 9) for n in sorted(cycles)]


def test_a_file_over_the_limit_gets_413_naming_the_limit(demo_lab, upload, settings):
    settings.ELN_UPLOAD_MAX_BYTES = 10_000
    response = upload(demo_lab["runs"]["nco95_70mpa"], "big.mpt", b"x" * 20_000)
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The file is larger than the upload limit of 10000 bytes")
    assert RawDataFile.objects.count() == 0


def test_cycler_token_uploads_only_to_its_cyclers_channels(demo_lab, upload, api):
    runs = demo_lab["runs"]
    vmp3_run, neware_run = runs["nco95_70mpa"], runs["sn_half"]
    token, key = cycler_token_issue(user=None, cycler=vmp3_run.channel.cycler, label="VMP3 PC")
    assert CyclerToken.objects.get().key_hash != key and key not in str(CyclerToken.objects.values())
    cycler_client = api(None)
    cycler_client.credentials(HTTP_AUTHORIZATION=f"Cycler {key}")
    content = shared_bytes("biologic_mpt/gcpl.issue_149.mpt")
    accepted = upload(vmp3_run, "c.mpt", content, client=cycler_client)
    assert accepted.status_code == 202
    raw = RawDataFile.objects.get()
    assert raw.uploaded_with == token and raw.uploaded_by is None
    assert raw.history.get().history_user is None  # the history records people; the token says who sent it
    refused = upload(neware_run, "c.mpt", content, client=cycler_client)
    assert refused.status_code == 404
    assert refused.json()["detail"] == f"No run {neware_run.human_id} on a channel of cycler {vmp3_run.channel.cycler.name}."
    token.revoked_at = token.created_at
    token.save()
    revoked = upload(vmp3_run, "d.mpt", content + b"\n", client=cycler_client)
    assert revoked.status_code == 401
    assert revoked.json()["detail"] == f"This cycler token ({key[:8]}…) was revoked."


def test_a_reader_of_the_project_cannot_upload(demo_lab, upload, api, people):
    from eln.models import ProjectMembership

    ProjectMembership.objects.create(project=demo_lab["project"], user=people["reader"], role="reader")
    response = upload(demo_lab["runs"]["nco95_70mpa"], "c.mpt", b"abc", client=api(people["reader"]))
    assert response.status_code == 403
    outsider = upload(demo_lab["runs"]["nco95_70mpa"], "c.mpt", b"abc", client=api(people["outsider"]))
    assert outsider.status_code == 404


BDF_HEADER = b"test_time_second,voltage_volt,current_ampere\n"


@pytest.mark.parametrize("name, content, expected", [
    ("empty.mpt", b"", "not a recognised cycler format"),
    ("garbage.bin", bytes(range(256)) * 40, "not a recognised cycler format"),
    ("truncated.mpr", None, "truncated file: module 'VMP Set'"),
    ("wrong-format.csv", b"name,colour\nNaCrO2,green\n", "needs a column mapping"),
    ("no-current.bdf.csv", b"test_time_second,voltage_volt\n0,3.0\n10,3.1\n", "current"),
    ("comma.mpt", None, None),
])
def test_bad_input_fails_with_a_message_and_keeps_the_raw_file(demo_lab, upload, api, demo_user, name, content, expected):
    if name == "truncated.mpr":
        content = shared_bytes("biologic_mpr/gcpl.issue_211.mpr")[:5000]
    if name == "comma.mpt":
        # A German-locale export (decimal commas) is not bad input: it reads.
        content = shared_bytes("biologic_mpt/gcpl.issue_149.mpt")
    response = upload(demo_lab["runs"]["nco95_70mpa"], name, content)
    assert response.status_code == 202
    status = api(demo_user).get(response.json()["status_url"]).json()
    raw = RawDataFile.objects.get()
    assert raw.file.read() == content  # the raw file is kept byte for byte
    if expected is None:
        # 4 complete cycles; the run is still going, so its last is not known to have ended
        assert (status["state"], status["message"], status["warnings"]) == (
            "done_with_warnings", "done with 1 warning", 1)
        return
    assert status["state"] == "failed"
    read = status["stages"][0]
    assert read["state"] == "failed" and expected in read["message"]
    assert name in read["message"]  # the message names the file
    assert status["message"] == read["message"]
    # the stages after it did not run: they say so, and why
    assert [(s["state"], s["message"]) for s in status["stages"][1:]] == [
        ("skipped", "not run: the stage before (read the raw file into the canonical table) failed")] * 3


def test_a_cell_without_masses_fails_at_the_cycles_stage_with_what_to_do(demo_lab, upload, api, demo_user):
    from cells.models import Cell, CyclingRun

    cell = Cell.objects.create(project=demo_lab["project"], kind="cathode_half")
    run = CyclingRun.objects.create(project=demo_lab["project"], cell=cell)
    response = upload(run, "c.mpt", shared_bytes("biologic_mpt/gcpl.issue_149.mpt"))
    status = api(demo_user).get(response.json()["status_url"]).json()
    assert [s["state"] for s in status["stages"]] == ["done", "failed", "skipped", "skipped"]
    assert status["stages"][2]["message"] == "not run: the stage before (find steps and cycles) failed"
    assert status["stages"][1]["message"] == (
        f"{cell.human_id} has no positive electrode from an electrode sheet: "
        "add it to the cell's parts so capacities can be given per gram.")
    # The canonical table is kept: fixing the cell and recomputing needs no new upload.
    assert Dataset.objects.get().parquet_file


def test_the_raw_file_can_be_downloaded_as_it_was_sent(demo_lab, upload, api, demo_user, people):
    content = shared_bytes("biologic_mpt/gcpl.issue_149.mpt")
    body = upload(demo_lab["runs"]["nco95_70mpa"], "gcpl.issue_149.mpt", content).json()
    response = api(demo_user).get(f"/api/v1/raw-files/{body['raw_file']['id']}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert 'filename="gcpl.issue_149.mpt"' in response["Content-Disposition"]
    assert api(people["outsider"]).get(f"/api/v1/raw-files/{body['raw_file']['id']}/download/").status_code == 404
