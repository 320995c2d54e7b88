"""Where the suite finds the real cycler files: ../shared/data beside the repository, read in
place and never copied into it."""
import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_bytes(relative: str) -> bytes:
    return (SHARED_DATA / relative).read_bytes()
