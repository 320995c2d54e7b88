"""One pass over the folder: decide which files are new or changed and settled, send them, and
remember the outcome."""
import dataclasses
import logging
import time

from eln.harvester import scan
from eln.harvester.client import Backoff, Client, FileProblem, GaveUp, Rejected, with_retries
from eln.harvester.state import FINAL, State

log = logging.getLogger("eln.harvester")

PROGRESS_FROM_BYTES = 16 * 1024**2  # log percentages for files at least this large


@dataclasses.dataclass
class PassResult:
    sent: int = 0
    failed: int = 0  # refused by the server, or not sent because it stayed away
    pending: int = 0  # still being written


class Harvester:
    def __init__(self, client: Client, folder: str, state: State, *, run: str | None = None,
                 settler: scan.Settler, backoff: Backoff, retry_for: float = 0, sleep=time.sleep):
        self.client, self.folder, self.state, self.run = client, folder, state, run
        self.settler, self.backoff, self.retry_for, self.sleep = settler, backoff, retry_for, sleep

    def changed(self, file: scan.Candidate) -> bool:
        """New, or different from what was last sent (or refused); transient errors count as changed."""
        entry = self.state.files.get(file.key)
        return not (entry and entry.get("run") == file.run and entry.get("result") in FINAL
                    and (entry.get("size"), entry.get("mtime_ns")) == (file.size, file.mtime_ns))

    def same_bytes(self, file: scan.Candidate) -> bool:
        """Touched but not changed (same size, same SHA-256): remember the new mtime, send nothing."""
        entry = self.state.files.get(file.key) or {}
        if entry.get("run") != file.run or entry.get("result") not in FINAL or entry.get("size") != file.size:
            return False
        try:
            if scan.sha256_of(file.path) != entry.get("sha256"):
                return False
        except OSError:
            return False
        self.state.record(file.key, **{**entry, "mtime_ns": file.mtime_ns})
        return True

    def run_pass(self) -> PassResult:
        result = PassResult()
        files = scan.find_files(self.folder, self.run)
        # Files that failed last time go last, so that one troublesome file cannot hold up the rest.
        files.sort(key=lambda f: (self.state.files.get(f.key) or {}).get("result") == "error")
        for file in files:
            if not self.changed(file):
                continue
            if not self.settler.ready(file.key, file.size, file.mtime_ns):
                log.debug("%s: still being written", file.key)
                result.pending += 1
                continue
            if self.same_bytes(file):
                continue
            outcome = self.send(file)
            if outcome == "gave up":
                result.failed += 1
                break  # the server is away: the remaining files would wait just as long
            result.sent += outcome in ("sent", "duplicate")
            result.failed += outcome == "rejected"
        return result

    def send(self, file: scan.Candidate) -> str:
        """Send one file with retries; returns its result. ConfigError propagates: it stops the harvester."""
        last_step = [0]

        def progress(done, total):
            step = done * 10 // total
            if total >= PROGRESS_FROM_BYTES and step > last_step[0]:
                last_step[0] = step
                log.info("%s: %d %% of %s", file.key, step * 10, human(total))

        def upload():
            last_step[0] = 0
            return self.client.upload(file.run, file.path, progress=progress)

        entry = {"run": file.run, "size": file.size, "mtime_ns": file.mtime_ns}
        try:
            up = with_retries(upload, backoff=self.backoff, give_up_after=self.retry_for,
                              what=f"{file.key}: ", sleep=self.sleep)
        except Rejected as exc:
            log.error("%s: refused by the server (HTTP %d): %s; not sent again until the file changes",
                      file.key, exc.status, exc.message.rstrip("."))
            self.state.record(file.key, **entry, result="rejected", http_status=exc.status, message=exc.message)
            return "rejected"
        except (GaveUp, FileProblem) as exc:
            gave_up = isinstance(exc, GaveUp)
            (log.error if gave_up else log.warning)("%s: not sent (%s); trying again later", file.key, exc)
            previous = self.state.files.get(file.key) or {}
            # Keep what was last sent (dataset, sha256) so that an unchanged file is still known.
            self.state.record(file.key, **{**previous, **entry}, result="error", message=str(exc))
            return "gave up" if gave_up else "error"
        answer = up.answer
        outcome = "sent" if answer.get("created") else "duplicate"
        self.state.record(file.key, run=file.run, size=up.size, mtime_ns=up.mtime_ns, sha256=up.sha256,
                          dataset=answer.get("dataset"), result=outcome, http_status=up.status, message="")
        rate = up.size / up.seconds if up.seconds > 0 else 0
        if outcome == "sent":
            log.info("%s: sent %s in %.1f s (%s/s) -> %s, %s", file.key, human(up.size), up.seconds,
                     human(rate), answer.get("dataset"), answer.get("state"))
        else:
            log.info("%s: the server already had these bytes (%s)", file.key, answer.get("dataset"))
        return outcome


def human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
