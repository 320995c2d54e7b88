import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
    """The real cycler files, read in place from ../shared/data (never copied into the repo)."""
    assert SHARED_DATA.is_dir(), f"expected the shared cycler files at {SHARED_DATA}"
    return SHARED_DATA
