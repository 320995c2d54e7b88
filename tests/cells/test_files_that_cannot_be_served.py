"""A dataset's answers when what they read is odd: a time zone no country has in the query, a
raw file gone from the file store, values in the file that are not numbers (inf, NaN, 1e308).
Each answers a 4xx naming the parameter or the file, or valid JSON with the value missing and the
cycle flagged; never a 500."""
import json

import pytest

from cells.models import Dataset, RawDataFile
from tests.paths import shared_bytes

pytestmark = pytest.mark.django_db


def bdf(rows) -> bytes:
    """A small Battery Data Format file: two cycles at ±1 mA, each half cycle 11 rows of 360 s."""
    return ("test_time_second,voltage_volt,current_ampere\n"
            + "".join(f"{t},{v},{i}\n" for t, v, i in rows)).encode()


def two_cycles():
    rows, t = [], 0.0
    for _cycle in range(2):
        for k in range(11):  # charge 3.0 -> 4.0 V
            rows.append([t, round(3.0 + 0.1 * k, 3), 0.001])
            t += 360.0
        for k in range(11):  # discharge 4.0 -> 3.0 V
            rows.append([t, round(4.0 - 0.1 * k, 3), -0.001])
            t += 360.0
    return rows


def not_json(constant):
    pytest.fail(f"{constant} in the JSON")


@pytest.fixture
def client(api, demo_user):
    client = api(demo_user)
    client.raise_request_exception = False
    return client


@pytest.fixture
def dataset(demo_lab, upload):
    body = upload(demo_lab["runs"]["nco95_70mpa"], "two-cycles.bdf.csv", bdf(two_cycles())).json()
    assert Dataset.objects.get(human_id=body["dataset"]).cycles.count() == 2
    return body["dataset"]


def test_a_time_zone_no_country_has_on_a_datasets_answers_is_refused_by_name(client, dataset):
    for answer in ("cycles/", "data/", "spectrum/", ""):
        response = client.get(f"/api/v1/datasets/{dataset}/{answer}", {"created_after": "2020-01-01T00:00:00+16:00"})
        assert response.status_code == 400, (answer, response.content[:300])
        assert response.json() == {"created_after": [
            "The time zone offset +16:00 is not one of the world's; offsets run from -12:00 to +14:00 "
            "(e.g. 2024-05-01T08:00:00+02:00)."]}


# --------------------------------------------------------------------------- a raw file gone


def test_a_raw_file_gone_from_storage_answers_410_saying_how_to_put_it_back(client, dataset, demo_lab, upload):
    raw = RawDataFile.objects.get(datasets__human_id=dataset)
    raw.file.storage.delete(raw.file.name)
    message = (f"The raw file two-cycles.bdf.csv of {raw.run.human_id} is no longer in the file store (a restore "
               f"without it, or a cleanup). Send the same file again (SHA-256 {raw.sha256}) to put it back; the "
               "numbers already computed from it are kept.")
    response = client.get(f"/api/v1/raw-files/{raw.pk}/download/")
    assert response.status_code == 410
    assert response.json() == {"detail": message}
    # The download link of the web pages: a page with the same message.
    page = client.get(f"/api/v1/raw-files/{raw.pk}/download/", HTTP_ACCEPT="text/html")
    assert page.status_code == 410 and page["Content-Type"].startswith("text/html")
    assert "is no longer in the file store" in page.content.decode()
    # What was computed from it is still served.
    assert client.get(f"/api/v1/datasets/{dataset}/cycles/").json()["count"] == 2
    assert client.get(f"/api/v1/datasets/{dataset}/data/").status_code == 200
    # Sending the same bytes again puts the file back, exactly.
    again = upload(demo_lab["runs"]["nco95_70mpa"], "two-cycles.bdf.csv", bdf(two_cycles()))
    assert again.status_code == 200
    restored = client.get(f"/api/v1/raw-files/{raw.pk}/download/")
    assert restored.status_code == 200 and b"".join(restored.streaming_content) == bdf(two_cycles())


def test_an_ingestion_whose_raw_file_has_gone_fails_saying_so_and_the_same_bytes_recover_it(
        client, demo_lab, upload, django_capture_on_commit_callbacks):
    from analysis.services import raw_file_receive
    from tests.factories import uploaded_file

    run = demo_lab["runs"]["nco95_70mpa"]
    content = bdf(two_cycles())
    with django_capture_on_commit_callbacks(execute=False) as queued:
        received = raw_file_receive(run=run, uploaded=uploaded_file("late.bdf.csv", content))
    raw = received.raw_file
    raw.file.storage.delete(raw.file.name)  # gone before the worker got to it
    for callback in queued:
        callback()
    dataset = Dataset.objects.get(pk=received.dataset.pk)
    assert dataset.state == Dataset.State.FAILED
    assert dataset.message == raw.gone_message
    stage = dataset.stages.get(name="read")
    assert (stage.state, stage.message) == ("failed", raw.gone_message)
    status = client.get(f"/api/v1/datasets/{dataset.human_id}/status/").json()
    assert status["state"] == "failed" and status["message"] == raw.gone_message
    # The same bytes again: the file is back and the dataset read.
    again = upload(run, "late.bdf.csv", content)
    assert again.status_code == 202
    dataset.refresh_from_db()
    assert dataset.state in (Dataset.State.DONE, Dataset.State.DONE_WITH_WARNINGS)
    assert dataset.cycles.count() == 2


# --------------------------------------------------------------------------- values that are not numbers


@pytest.mark.parametrize("damage, column, value", [
    ("inf voltage", 1, "inf"), ("-inf voltage", 1, "-inf"), ("NaN voltage", 1, "NaN"),
    ("1e308 current", 2, "1e308"), ("NaN current", 2, "nan"), ("-1e308 current", 2, "-1e308"),
])
def test_a_value_that_is_not_a_number_is_stored_as_missing_and_every_answer_is_valid_json(
        client, demo_lab, upload, damage, column, value):
    rows = two_cycles()
    rows[5][column] = value  # line 7 of the file: the 6th data row, inside the first charge
    run = demo_lab["runs"]["nco95_70mpa"]
    body = upload(run, "damaged.bdf.csv", bdf(rows)).json()
    name = "voltage_v" if column == 1 else "current_ma"
    dataset = Dataset.objects.get(human_id=body["dataset"])
    assert dataset.state == Dataset.State.DONE_WITH_WARNINGS, dataset.message
    if value.lower() != "nan":  # a text NaN is read as an empty value; the flag below still says so
        assert dataset.file_metadata["missing_values"][name]["first_row"] == 6
    answers = {
        "cycles": client.get(f"/api/v1/datasets/{dataset.human_id}/cycles/"),
        "data": client.get(f"/api/v1/datasets/{dataset.human_id}/data/"),
        "status": client.get(f"/api/v1/datasets/{dataset.human_id}/status/"),
        "cell cycles": client.get(f"/api/v1/cells/{run.cell.human_id}/cycles/"),
        "metrics": client.get(f"/api/v1/cells/{run.cell.human_id}/metrics/"),
        "detail": client.get(f"/api/v1/datasets/{dataset.human_id}/"),
    }
    for what, response in answers.items():
        assert response.status_code == 200, (what, response.content[:300])
        json.loads(response.content, parse_constant=not_json)
    first, second = answers["cycles"].json()["results"]
    missing = [flag for flag in first["flags"] if flag["code"] == "missing_values"]
    assert len(missing) == 1
    assert missing[0]["message"].startswith("1 row(s) with a missing or non-finite current or voltage")
    assert "missing_values" not in {flag["code"] for flag in second["flags"]}  # the other cycle is untouched
    assert answers["data"].json()["columns"][name][5] is None


def test_an_impedance_file_with_a_value_that_is_not_a_number_serves_its_spectrum_as_valid_json(
        client, demo_lab, upload):
    lines = shared_bytes("biologic_mpt/peis.mpt").split(b"\n")
    header_lines = int(lines[1].split(b":")[1])
    fields = lines[header_lines + 2].split(b"\t")
    fields[1] = b"inf"  # Re(Z) of the third point
    lines[header_lines + 2] = b"\t".join(fields)
    body = upload(demo_lab["runs"]["nco95_70mpa"], "peis.mpt", b"\n".join(lines)).json()
    response = client.get(f"/api/v1/datasets/{body['dataset']}/spectrum/")
    assert response.status_code == 200, response.content[:300]
    sweeps = json.loads(response.content, parse_constant=not_json)["sweeps"]
    assert sweeps[0]["re_z_ohm"][2] is None
    assert all(v is not None for v in sweeps[0]["re_z_ohm"][3:])


def test_a_file_cut_inside_its_last_line_says_on_its_read_stage_which_line_it_left_out(client, demo_lab, upload):
    content = bdf(two_cycles())[:-4]  # "-0.001\n" of the last row cut to "-0."
    body = upload(demo_lab["runs"]["nco95_70mpa"], "growing.bdf.csv", content).json()
    status = client.get(f"/api/v1/datasets/{body['dataset']}/status/").json()
    read = next(stage for stage in status["stages"] if stage["name"] == "read")
    assert read["state"] == "done"
    assert read["message"] == ("line 45 was not read: the file ends inside it (the cycler was still writing it); "
                               "it is read when the grown file arrives")
    assert status["row_count"] == 43
