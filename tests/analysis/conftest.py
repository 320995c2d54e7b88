import pytest

from tests.paths import SHARED_DATA


@pytest.fixture(scope="session")
def shared_data():
    """The real cycler files, read in place from ../shared/data (never copied into the repo)."""
    assert SHARED_DATA.is_dir(), f"expected the shared cycler files at {SHARED_DATA}"
    return SHARED_DATA
