"""The harvester's pure parts: the streamed multipart body, the state file, settling, the ignore
rules, the back-off; and that it needs nothing but the standard library."""
import email.parser
import email.policy
import hashlib
import json
import os
import pathlib
import subprocess
import sys

import pytest

from eln.harvester import cli, client, scan, state

ROOT = pathlib.Path(__file__).resolve().parents[2]


def parse_multipart(content_type: str, body: bytes):
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    assert message.is_multipart() and not message.defects
    return message.get_payload()


@pytest.mark.parametrize("payload", [b"", b"x", bytes(range(256)) * 3000 + b"\r\n--not-a-boundary\r\n\r\n"])
def test_the_multipart_body_parses_back_and_is_as_long_as_declared(tmp_path, payload):
    path = tmp_path / "cell 42 \"b\".mpr"
    path.write_bytes(payload)
    reported = []
    with client.MultipartFile(path, progress=lambda done, total: reported.append((done, total))) as body:
        pieces = list(iter(lambda: body.read(8192), b""))
        produced = b"".join(pieces)
    assert len(produced) == body.length == body.sent
    assert all(len(piece) <= 8192 for piece in pieces)
    assert body.sha256 == hashlib.sha256(payload).hexdigest()
    assert reported[-1] == (body.length, body.length)
    (part,) = parse_multipart(body.content_type, produced)
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename() == "cell 42 %22b%22.mpr"
    assert part.get_payload(decode=True) == payload


def test_the_body_sends_only_the_bytes_present_when_opened(tmp_path):
    path = tmp_path / "growing.mpt"
    path.write_bytes(b"a" * 1000)
    with client.MultipartFile(path) as body:
        with open(path, "ab") as cycler:
            cycler.write(b"b" * 500)  # the cycler writes on while we send
        produced = body.read()
    assert len(produced) == body.length and body.size == 1000
    (part,) = parse_multipart(body.content_type, produced)
    assert part.get_payload(decode=True) == b"a" * 1000


def test_a_file_that_shrinks_while_sent_is_a_file_problem(tmp_path):
    path = tmp_path / "rewritten.mpt"
    path.write_bytes(b"a" * 1000)
    with client.MultipartFile(path) as body:
        path.write_bytes(b"a" * 10)  # truncated and rewritten by the cycler
        with pytest.raises(client.FileProblem, match="shorter"):
            body.read()


def test_a_utf8_file_name_is_sent_as_utf8(tmp_path):
    path = tmp_path / "Zelle_µ.mpt"
    path.write_bytes(b"1")
    with client.MultipartFile(path) as body:
        assert 'filename="Zelle_µ.mpt"'.encode() in body.read()


def test_the_state_file_round_trips(tmp_path):
    path = str(tmp_path / ".state.json")
    saved = state.State(path)
    saved.record("RUN-0001/cell.mpr", run="RUN-0001", size=10, mtime_ns=123456789012345678,
                 sha256="ab" * 32, dataset="DS-0001", result="sent", http_status=202, message="")
    loaded = state.State.load(path)
    assert loaded.files == saved.files
    assert loaded.files["RUN-0001/cell.mpr"]["mtime_ns"] == 123456789012345678
    assert json.loads(pathlib.Path(path).read_text())["version"] == 1
    assert state.State.load(str(tmp_path / "absent.json")).files == {}


def test_the_state_file_is_replaced_atomically(tmp_path, monkeypatch):
    path = tmp_path / ".state.json"
    first = state.State(str(path))
    first.record("a", result="sent")
    before = path.read_bytes()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(state.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        first.record("b", result="sent")
    assert path.read_bytes() == before  # the old state is whole
    assert sorted(os.listdir(tmp_path)) == [".state.json"]  # and no temporary file is left behind


def test_a_corrupt_state_file_is_moved_aside(tmp_path):
    path = tmp_path / ".state.json"
    path.write_text('{"files": {"a": ')
    assert state.State.load(str(path)).files == {}
    assert not path.exists() and len(list(tmp_path.glob(".state.json.corrupt-*"))) == 1


def test_a_file_is_ready_once_unchanged_for_the_settle_time():
    now = [100.0]
    settler = scan.Settler(5, clock=lambda: now[0])
    assert not settler.ready("f", 10, 1)  # first seen
    now[0] += 4
    assert not settler.ready("f", 10, 1)
    now[0] += 1
    assert settler.ready("f", 10, 1)
    assert not settler.ready("f", 20, 2)  # it grew: the clock starts again
    now[0] += 5
    assert settler.ready("f", 20, 2)
    assert scan.Settler(0).ready("g", 1, 1)  # no settling: ready when first seen


def test_the_ignore_rules(tmp_path):
    for name in ["RUN-0001/cell42.mpr", "RUN-0001/cell42.MPT", "RUN-0001/.hidden", "RUN-0001/~$notes.xlsx",
                 "RUN-0001/copy.tmp", "RUN-0001/download.PART", "RUN-0001/Thumbs.db", "RUN-0002/b.csv",
                 ".git/RUN-0003.mpr", "loose.mpr", "RUN-0002/sub/deep.mpr"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"data")
    (tmp_path / "RUN-0002" / "just-created.mpr").write_bytes(b"")
    found = scan.find_files(str(tmp_path))
    assert [(f.key, f.run) for f in found] == [
        ("RUN-0001/cell42.MPT", "RUN-0001"), ("RUN-0001/cell42.mpr", "RUN-0001"), ("RUN-0002/b.csv", "RUN-0002")]
    assert found[0].size == 4 and found[0].path == str(tmp_path / "RUN-0001" / "cell42.MPT")
    flat = scan.find_files(str(tmp_path / "RUN-0001"), run="RUN-0009")
    assert [(f.key, f.run) for f in flat] == [("cell42.MPT", "RUN-0009"), ("cell42.mpr", "RUN-0009")]


def test_the_backoff_doubles_up_to_the_cap_with_jitter():
    assert list_of(client.Backoff(cap=20, rng=lambda: 1.0), 7) == [1, 2, 4, 8, 16, 20, 20]
    assert list_of(client.Backoff(cap=20, rng=lambda: 0.0), 3) == [0.5, 1, 2]
    assert list_of(client.Backoff(cap=0.2, rng=lambda: 1.0), 3) == [0.2, 0.2, 0.2]
    jittered = list_of(client.Backoff(cap=20), 7)
    assert all(top / 2 <= delay <= top for delay, top in zip(jittered, [1, 2, 4, 8, 16, 20, 20]))


def list_of(backoff, n):
    delays = backoff.delays()
    return [next(delays) for _ in range(n)]


def test_retries_sleep_through_the_backoff_until_the_server_answers():
    slept, answers = [], [client.ServerAway("refused"), client.ServerAway("HTTP 503", retry_after=7), "ok"]

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    backoff = client.Backoff(cap=60, rng=lambda: 1.0)
    assert client.with_retries(call, backoff=backoff, sleep=slept.append, clock=lambda: sum(slept)) == "ok"
    assert slept == [1, 7]  # the server's Retry-After wins when longer


def test_retries_give_up_after_the_retry_time_and_never_retry_a_refusal():
    slept = []

    def away():
        raise client.ServerAway("refused")

    backoff = client.Backoff(cap=60, rng=lambda: 1.0)
    with pytest.raises(client.GaveUp):
        client.with_retries(away, backoff=backoff, give_up_after=20, sleep=slept.append, clock=lambda: sum(slept))
    assert slept == [1, 2, 4, 8]

    def refuse():
        raise client.Rejected(413, "too large")

    with pytest.raises(client.Rejected):
        client.with_retries(refuse, backoff=backoff, sleep=slept.append)
    assert slept == [1, 2, 4, 8]


@pytest.mark.parametrize("status, error", [(500, client.ServerAway), (503, client.ServerAway),
                                           (429, client.ServerAway), (408, client.ServerAway),
                                           (401, client.ConfigError), (301, client.ConfigError),
                                           (404, client.Rejected), (413, client.Rejected), (400, client.Rejected)])
def test_which_answers_are_retried(status, error):
    with pytest.raises(error):
        client.check(status, {"detail": "why"})
    client.check(202, {})


def test_the_servers_message_is_kept():
    assert client.message_of({"detail": "No run RUN-9 on a channel of cycler BCS-1."}) == \
        "No run RUN-9 on a channel of cycler BCS-1."
    assert client.message_of({"file": ["x.mpr is empty (0 bytes)."]}) == "file: x.mpr is empty (0 bytes)."


def test_bad_configuration_exits_2_with_a_clear_message(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ELN_SERVER", raising=False)
    monkeypatch.delenv("ELN_CYCLER_TOKEN", raising=False)
    assert cli.main(["--folder", str(tmp_path), "--once"]) == 2
    assert "ELN_SERVER" in capsys.readouterr().err
    assert cli.main(["--server", "http://localhost:1", "--folder", str(tmp_path), "--once"]) == 2
    assert "ELN_CYCLER_TOKEN" in capsys.readouterr().err
    assert cli.main(["--server", "ftp://x", "--token", "k", "--folder", str(tmp_path)]) == 2
    assert "https://" in capsys.readouterr().err
    assert cli.main(["--server", "http://localhost:1", "--token", "k", "--folder", str(tmp_path / "no")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["--server", "http://localhost:1", "--token-file", str(tmp_path / "no"),
                     "--folder", str(tmp_path)]) == 2
    assert "token file" in capsys.readouterr().err


def run_python(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith("ELN_")},
                               "PYTHONPATH": str(ROOT)})


def test_importing_the_harvester_imports_neither_django_nor_celery():
    code = ("import sys, eln.harvester.cli\n"
            "loaded = {m.split('.')[0] for m in sys.modules}\n"
            "third = sorted(loaded & {'django', 'celery', 'rest_framework', 'requests'})\n"
            "print(third)\n")
    done = run_python("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_harvester_runs_on_the_standard_library_alone(tmp_path):
    # -S: no site-packages at all, as on a cycler PC where nothing was pip-installed.
    done = run_python("-S", "-m", "eln.harvester", "--help")
    assert done.returncode == 0, done.stderr
    assert "--settle-seconds" in done.stdout
    done = run_python("-S", "-m", "eln.harvester", "--folder", str(tmp_path), "--once")
    assert done.returncode == 2 and "ELN_SERVER" in done.stderr


class FakeClient:
    """Answers uploads from a script: an exception to raise or a server answer to return."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def upload(self, run, path, progress=None):
        self.calls.append((run, os.path.basename(path)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        st, sha256 = os.stat(path), scan.sha256_of(path)
        return client.Uploaded(202, {"dataset": answer, "created": True}, sha256, st.st_size, st.st_mtime_ns, 0.1)


def harvester_for(folder, fake, settle=0):
    from eln.harvester.harvest import Harvester

    return Harvester(fake, str(folder), state.State(str(folder / ".state.json")), settler=scan.Settler(settle),
                     backoff=client.Backoff(cap=0.01), retry_for=0.05)


def test_a_pass_sends_new_files_records_refusals_and_stops_when_the_server_stays_away(tmp_path):
    for name in ("a.mpr", "b.mpr", "c.mpr", "d.mpr"):
        (tmp_path / "RUN-0001").mkdir(exist_ok=True)
        (tmp_path / "RUN-0001" / name).write_bytes(b"data")
    fake = FakeClient("DS-0001", client.Rejected(413, "too large"), client.FileProblem("locked"),
                      *[client.ServerAway("refused")] * 100)
    harvester = harvester_for(tmp_path, fake)
    result = harvester.run_pass()
    assert (result.sent, result.failed) == (1, 2)  # a sent, b refused, c locked (no failure), d gave up
    files = harvester.state.files
    assert [files[f"RUN-0001/{n}.mpr"]["result"] for n in "abcd"] == ["sent", "rejected", "error", "error"]
    assert (files["RUN-0001/b.mpr"]["http_status"], files["RUN-0001/b.mpr"]["message"]) == (413, "too large")
    assert files["RUN-0001/a.mpr"]["dataset"] == "DS-0001"

    fake.answers = ["DS-0002", "DS-0003"]
    fake.calls.clear()
    assert harvester.run_pass().sent == 2
    assert fake.calls == [("RUN-0001", "c.mpr"), ("RUN-0001", "d.mpr")]  # a and b stand until they change


def test_files_that_failed_last_time_go_last(tmp_path):
    (tmp_path / "RUN-0001").mkdir()
    for name in ("a.mpr", "b.mpr"):
        (tmp_path / "RUN-0001" / name).write_bytes(b"data")
    harvester = harvester_for(tmp_path, FakeClient("DS-0001", "DS-0002"))
    harvester.state.files["RUN-0001/a.mpr"] = {"run": "RUN-0001", "result": "error"}
    harvester.run_pass()
    assert harvester.client.calls == [("RUN-0001", "b.mpr"), ("RUN-0001", "a.mpr")]


def test_a_touched_file_with_the_same_bytes_is_not_sent_again(tmp_path):
    (tmp_path / "RUN-0001").mkdir()
    path = tmp_path / "RUN-0001" / "a.mpr"
    path.write_bytes(b"data")
    harvester = harvester_for(tmp_path, FakeClient())
    harvester.state.files["RUN-0001/a.mpr"] = {"run": "RUN-0001", "result": "sent", "size": 4, "mtime_ns": 1,
                                               "sha256": hashlib.sha256(b"data").hexdigest()}
    assert harvester.run_pass().sent == 0 and harvester.client.calls == []
    assert harvester.state.files["RUN-0001/a.mpr"]["mtime_ns"] == path.stat().st_mtime_ns


def test_the_watch_loop_polls_sooner_while_a_file_settles(tmp_path, monkeypatch):
    (tmp_path / "RUN-0001").mkdir()
    (tmp_path / "RUN-0001" / "a.mpr").write_bytes(b"data")
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        if len(slept) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli.time, "sleep", sleep)
    monkeypatch.setattr(scan.time, "monotonic", lambda: 0.0)  # the file never settles: nothing is sent
    code = cli.main(["--server", "http://127.0.0.1:9", "--token", "k", "--folder", str(tmp_path),
                     "--interval", "60", "--settle-seconds", "5"])
    assert code == 0 and slept == [5, 5]
