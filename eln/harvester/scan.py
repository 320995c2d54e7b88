"""Finding the cycler files to send: which files count, which run they belong to, and whether
the cycler has finished writing them."""
import dataclasses
import fnmatch
import hashlib
import logging
import os
import stat
import time

log = logging.getLogger("eln.harvester")

# Office lock files, download/copy temporaries and Windows' folder clutter.
IGNORED_NAMES = ("~$*", "*.tmp", "*.part", "thumbs.db", "desktop.ini")


def ignored(name: str, st: os.stat_result | None = None) -> bool:
    if name.startswith("."):
        return True
    if st is not None and getattr(st, "st_file_attributes", 0) & stat.FILE_ATTRIBUTE_HIDDEN:
        return True  # hidden on Windows
    return any(fnmatch.fnmatchcase(name.lower(), pattern) for pattern in IGNORED_NAMES)


@dataclasses.dataclass(frozen=True)
class Candidate:
    key: str  # the file's path below the watched folder, '/'-separated: its key in the state
    path: str
    run: str
    size: int
    mtime_ns: int


def find_files(folder: str, run: str | None = None) -> list[Candidate]:
    """The files to consider, in name order: with ``run``, every file directly in ``folder``;
    otherwise every file directly in a sub-folder named by its run's label (RUN-0001/cell.mpr).
    Empty files are left out: the cycler has only just created them (and the server refuses them).
    """
    if run:
        folders = [(run, folder, "")]
    else:
        folders = [(entry.name, entry.path, entry.name + "/") for entry in _entries(folder)
                   if entry.is_dir() and not ignored(entry.name)]
    found = []
    for run_label, path, prefix in folders:
        for entry in _entries(path):
            try:
                if not entry.is_file():
                    continue
                st = entry.stat()
            except OSError:  # gone since the listing
                continue
            if not ignored(entry.name, st) and st.st_size > 0:
                found.append(Candidate(prefix + entry.name, entry.path, run_label, st.st_size, st.st_mtime_ns))
    return found


def _entries(path: str) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as entries:
            return sorted(entries, key=lambda e: e.name)
    except OSError as exc:
        log.warning("cannot list %s: %s", path, exc)
        return []


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Settler:
    """Leaves files alone while the cycler writes them: a file is ready once its size and mtime
    have not changed for ``settle_seconds``, as seen across polls (0: ready when first seen)."""

    def __init__(self, settle_seconds: float, clock=time.monotonic):
        self.settle_seconds, self.clock = settle_seconds, clock
        self._seen: dict[str, tuple[tuple[int, int], float]] = {}

    def ready(self, key: str, size: int, mtime_ns: int) -> bool:
        now, signature = self.clock(), (size, mtime_ns)
        seen = self._seen.get(key)
        if seen is None or seen[0] != signature:
            self._seen[key] = (signature, now)
            return self.settle_seconds <= 0
        return now - seen[1] >= self.settle_seconds
