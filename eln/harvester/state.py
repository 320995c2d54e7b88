"""What the harvester has sent, kept across restarts in a JSON file.

Per file (keyed by its path below the watched folder): run, size, mtime_ns, sha256, dataset,
result ("sent", "duplicate" = the server had these bytes, "rejected" = refused for good until the
file changes, "error" = try again), http_status, message and when.
"""
import json
import logging
import os
import tempfile
import time

log = logging.getLogger("eln.harvester")

FINAL = ("sent", "duplicate", "rejected")  # results that stand until the file changes


class State:
    VERSION = 1

    def __init__(self, path: str, files: dict | None = None):
        self.path, self.files = path, files or {}

    @classmethod
    def load(cls, path: str) -> "State":
        try:
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
            return cls(path, dict(data["files"]))
        except FileNotFoundError:
            return cls(path)
        except (ValueError, KeyError, TypeError) as exc:
            # Cannot happen with atomic writes unless edited by hand. Starting afresh is safe: the
            # server recognises bytes it already has and answers "duplicate".
            aside = f"{path}.corrupt-{int(time.time())}"
            os.replace(path, aside)
            log.warning("state file %s unreadable (%s); moved to %s, starting afresh", path, exc, aside)
            return cls(path)

    def record(self, key: str, **entry):
        self.files[key] = {**entry, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.save()

    def save(self):
        """Write to a temporary file beside the state and rename it over: a crash or full disk
        mid-write leaves the previous state whole, never half a JSON file."""
        folder, name = os.path.split(os.path.abspath(self.path))
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump({"version": self.VERSION, "files": self.files}, file, indent=1, sort_keys=True)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
