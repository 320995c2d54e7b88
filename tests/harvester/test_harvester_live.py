"""The harvester against the real app served by pytest-django's live server (PostgreSQL test
database). Asserts on the upload records and HTTP answers, not on what ingestion makes of the files."""
import json
import logging
import select
import socket
import types
import socketserver
import threading
import time
import urllib.parse

import pytest

from cells.services import cycler_token_issue
from cells.models import (
    Cell,
    Channel,
    Cycler,
    CyclingRun,
    Dataset,
    RawDataFile,
)
from eln.harvester import cli
from tests.paths import SHARED_DATA

SAMPLE = SHARED_DATA / "biologic_mpt" / "gcpl.issue_149.mpt"


@pytest.fixture
def lab(project, settings, tmp_path, live_server, caplog):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    caplog.set_level(logging.INFO, logger="eln.harvester")
    cycler = Cycler.objects.create(name="BCS-805", vendor=Cycler.Vendor.BIOLOGIC)
    cell = Cell.objects.create(project=project, kind=Cell.Kind.FULL)
    channel = Channel.objects.create(cycler=cycler, number="3")
    run = CyclingRun.objects.create(project=project, cell=cell, channel=channel)
    _, key = cycler_token_issue(user=None, cycler=cycler, label="cycler PC")
    token_file = tmp_path / "token.txt"
    token_file.write_text(key + "\n")
    folder = tmp_path / "cycler"
    (folder / run.human_id).mkdir(parents=True)
    return types.SimpleNamespace(run=run, cycler=cycler, cell=cell, project=project, token_file=token_file,
                                 folder=folder, server=live_server.url, data=SAMPLE.read_bytes())


def harvest(lab, *extra, server=None, token_file=None, folder=None, retry_for=5) -> int:
    return cli.main(["--server", server or lab.server, "--token-file", str(token_file or lab.token_file),
                     "--folder", str(folder or lab.folder), "--settle-seconds", "0.1",
                     "--max-backoff-seconds", "0.2", "--retry-for", str(retry_for), "--once", *extra])


def sent_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if ": sent " in r.getMessage()]


def state_of(lab) -> dict:
    return json.loads((lab.folder / ".eln-harvester-state.json").read_text())["files"]


def test_a_dropped_file_arrives_once(lab, caplog):
    (lab.folder / lab.run.human_id / "gcpl.mpt").write_bytes(lab.data)
    (lab.folder / lab.run.human_id / "~$gcpl.mpt").write_bytes(b"lock")  # ignored
    assert harvest(lab) == 0
    raw = RawDataFile.objects.get(run=lab.run)
    assert (raw.original_name, raw.size_bytes) == ("gcpl.mpt", len(lab.data))
    dataset = Dataset.objects.get(run=lab.run)
    assert dataset.raw_file == raw
    entry = state_of(lab)[f"{lab.run.human_id}/gcpl.mpt"]
    assert entry["result"] == "sent" and entry["dataset"] == dataset.human_id and entry["sha256"] == raw.sha256
    assert entry["http_status"] == 202 and entry["size"] == len(lab.data)
    assert len(sent_lines(caplog)) == 1 and "/s)" in sent_lines(caplog)[0]

    caplog.clear()
    assert harvest(lab) == 0  # nothing new
    assert sent_lines(caplog) == [] and RawDataFile.objects.count() == 1

    (lab.folder / ".eln-harvester-state.json").unlink()  # memory lost: the server recognises the bytes
    assert harvest(lab) == 0
    assert state_of(lab)[f"{lab.run.human_id}/gcpl.mpt"]["result"] == "duplicate"
    assert RawDataFile.objects.count() == 1


def test_a_grown_file_is_sent_again_and_supersedes_the_first(lab):
    path = lab.folder / lab.run.human_id / "gcpl.mpt"
    path.write_bytes(lab.data[: lab.data.index(b"\n", len(lab.data) // 2) + 1])  # the test half way
    assert harvest(lab) == 0
    first = RawDataFile.objects.get(run=lab.run)
    path.write_bytes(lab.data)  # the cycler wrote on
    assert harvest(lab) == 0
    assert RawDataFile.objects.filter(run=lab.run).count() == 2
    dataset = Dataset.objects.get(run=lab.run, source_name="gcpl.mpt")
    assert dataset.raw_file.size_bytes == len(lab.data) and dataset.raw_file.supersedes == first
    assert state_of(lab)[f"{lab.run.human_id}/gcpl.mpt"]["sha256"] == dataset.raw_file.sha256


class Pipe(socketserver.BaseRequestHandler):
    def handle(self):
        with socket.create_connection(self.server.target) as upstream:
            ends = {self.request: upstream, upstream: self.request}
            while True:
                readable, _, _ = select.select(list(ends), [], [], 30)
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        return
                    ends[end].sendall(data)
                if not readable:
                    return


class Forwarder(socketserver.ThreadingTCPServer):
    """The server coming back: a TCP forwarder to the live server on the port the harvester knocks at."""

    allow_reuse_address = daemon_threads = True

    def __init__(self, port: int, target: tuple[str, int]):
        self.target = target
        super().__init__(("127.0.0.1", port), Pipe)


def test_a_server_outage_is_survived(lab, caplog):
    (lab.folder / lab.run.human_id / "gcpl.mpt").write_bytes(lab.data)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    exit_code = []
    closed_port = f"http://127.0.0.1:{port}"
    harvester = threading.Thread(target=lambda: exit_code.append(harvest(lab, server=closed_port, retry_for=20)))
    harvester.start()
    time.sleep(1)
    assert harvester.is_alive()  # still knocking
    live = urllib.parse.urlsplit(lab.server)
    forwarder = Forwarder(port, (live.hostname, live.port))
    threading.Thread(target=forwarder.serve_forever, daemon=True).start()
    try:
        harvester.join(30)
    finally:
        forwarder.shutdown()
        forwarder.server_close()
    assert exit_code == [0]
    assert any("retrying in" in r.getMessage() for r in caplog.records)
    assert RawDataFile.objects.filter(run=lab.run).count() == 1 and len(sent_lines(caplog)) == 1


def test_an_unknown_token_is_a_clear_error(lab, caplog, tmp_path):
    (lab.folder / lab.run.human_id / "gcpl.mpt").write_bytes(lab.data)
    wrong = tmp_path / "wrong-token.txt"
    wrong.write_text("not-a-cycler-token")
    assert harvest(lab, token_file=wrong) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("refused the cycler token (HTTP 401): Unknown cycler token" in e for e in errors), errors
    assert RawDataFile.objects.count() == 0
    assert harvest(lab) == 0  # the file was not written off: with the right token it goes
    assert RawDataFile.objects.count() == 1


def test_refusals_are_recorded_and_not_retried_until_the_file_changes(lab, caplog, settings):
    other = Cycler.objects.create(name="Neware-1", vendor=Cycler.Vendor.NEWARE)
    foreign = CyclingRun.objects.create(project=lab.project, cell=lab.cell,
                                        channel=Channel.objects.create(cycler=other, number="1"))
    (lab.folder / foreign.human_id).mkdir()
    (lab.folder / foreign.human_id / "a.mpt").write_bytes(lab.data)  # 404: not this cycler's run
    # 413 with the limit below; so large that the server answers before reading it (a broken pipe for us)
    (lab.folder / lab.run.human_id / "big.mpt").write_bytes(lab.data * 20)
    settings.ELN_UPLOAD_MAX_BYTES = 1000
    assert harvest(lab) == 1
    state = state_of(lab)
    assert state[f"{foreign.human_id}/a.mpt"]["http_status"] == 404
    assert "No run" in state[f"{foreign.human_id}/a.mpt"]["message"]
    assert state[f"{lab.run.human_id}/big.mpt"]["result"] == "rejected"
    assert "upload limit of 1000 bytes" in state[f"{lab.run.human_id}/big.mpt"]["message"]
    assert any("upload limit" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)

    caplog.clear()
    assert harvest(lab) == 0  # unchanged: not sent again
    assert not any("HTTP" in r.getMessage() for r in caplog.records)
    (lab.folder / lab.run.human_id / "big.mpt").write_bytes(lab.data[:800])  # changed, now small enough
    assert harvest(lab) == 0
    assert RawDataFile.objects.get().size_bytes == 800


def test_a_flat_folder_goes_to_one_run_and_status_reports_it(lab, tmp_path, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "gcpl.mpt").write_bytes(lab.data)
    assert harvest(lab, "--run", lab.run.human_id, folder=flat) == 0
    dataset = Dataset.objects.get(run=lab.run)
    capsys.readouterr()
    assert cli.main(["--server", lab.server, "--token-file", str(lab.token_file), "--folder", str(flat),
                     "--run", lab.run.human_id, "--status"]) == 0
    key, dataset_id, result, server_state, *_ = capsys.readouterr().out.strip().split("\t")
    assert (key, dataset_id, result) == ("gcpl.mpt", dataset.human_id, "sent")
    assert server_state in Dataset.State.values
