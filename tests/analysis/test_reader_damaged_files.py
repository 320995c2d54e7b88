"""Damaged cycler files (cut short, bytes flipped) are refused with a ReaderError that names the
file, never with another exception: the ingestion turns that message into the dataset's state."""
import random

import pytest

from analysis.core.readers import ReaderError
from analysis.core.readers.registry import read_cycler_file

# pyarrow decodes a bad row's text before handing it to our invalid-row handler; on bytes that
# are not UTF-8 that decoding fails inside pyarrow, which reports it as "unraisable" and goes on.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

FILES = [
    "biologic_mpr/gcpl.issue_211.mpr", "biologic_mpt/gcpl.issue_149.mpt", "neware_nda/TestFile.nda",
    "neware_nda/new_nda_file.nda", "neware_ndax/test.ndax", "neware_csv/nw_regular_export_ife_example.csv",
    "arbin_res/arbin_example.res", "arbin_xlsx/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx",
    "arbin_csv/sample_data_arbin.csv", "maccor_txt/maccor_test_file_4267-66-6519.041",
    "generic_csv/SINTEF__LiGrR2032__2024-04-30__25degC__Landt.bdf.csv",
]


def damaged_versions(content: bytes, seed: int):
    rng = random.Random(seed)
    for fraction in (0.01, 0.1, 0.5, 0.9, 0.999):
        yield f"cut at {fraction:.1%}", content[: int(len(content) * fraction)]
    for n in range(6):
        flipped = bytearray(content)
        for _ in range(1 + n * 3):
            position = rng.randrange(len(flipped))
            flipped[position] = rng.randrange(256)
        yield f"{1 + n * 3} bytes changed (seed {seed}/{n})", bytes(flipped)


@pytest.mark.parametrize("relative", FILES)
def test_damaged_files_fail_with_a_reader_error(shared_data, tmp_path, relative):
    original = (shared_data / relative).read_bytes()
    name = relative.split("/")[1]
    for what, content in damaged_versions(original, seed=len(original)):
        path = tmp_path / name
        path.write_bytes(content)
        try:
            result = read_cycler_file(path)
        except ReaderError as error:
            assert name in str(error), (what, str(error))
            continue
        except Exception as error:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{relative}, {what}: {type(error).__name__}: {error}")
        # A damaged file that still reads must still honour the contract.
        assert result.table.num_rows > 0 and {"test_time_s", "current_ma", "voltage_v"} <= set(result.table.column_names)
