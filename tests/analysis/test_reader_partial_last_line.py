"""A text file copied while the cycler is still writing it ends inside a line. Every text reader
drops that row and says which line it dropped, whatever byte the file ends at; the rows before
it are read as from the whole file. Tested on every real text export in the shared data, cut at
several bytes inside its last line."""
import pytest

from analysis.core.readers.registry import read_cycler_file

TEXT_FILES = {
    "arbin_csv/sample_data_arbin.csv": "arbin-csv",
    "biologic_mpt/gcpl.issue_149.mpt": "biologic-mpt",
    "biologic_mpt/gcpl.issue_211.mpt": "biologic-mpt",
    "biologic_mpt/peis.mpt": "biologic-mpt",
    "generic_csv/SINTEF__LiGrR2032__2024-04-30__25degC__Landt.bdf.csv": "bdf-csv",
    "maccor_txt/PredictionDiagnostics_000109_tztest.010": "maccor-txt",
    "maccor_txt/maccor_test_file_4267-66-6519.041": "maccor-txt",
    "neware_csv/nw_regular_export_ife_example.csv": "neware-csv",
}


def cuts_inside_the_last_line(content: bytes):
    """(cut content, the last line's number) for cuts after 1 byte, a quarter, half, three
    quarters and all but one byte of the last line (its line end excluded)."""
    body = content.rstrip(b"\r\n")
    start = body.rfind(b"\n") + 1
    length = len(body) - start
    line = body.count(b"\n") + 1
    for keep in sorted({1, length // 4, length // 2, 3 * length // 4, length - 1}):
        yield keep, body[:start + keep], line


@pytest.mark.parametrize("relative", TEXT_FILES)
def test_a_last_line_cut_anywhere_is_dropped_and_said_so(shared_data, tmp_path, relative):
    content = (shared_data / relative).read_bytes()
    name = relative.split("/")[1]
    whole = read_cycler_file(shared_data / relative)
    assert whole.reader_name == TEXT_FILES[relative]
    assert "dropped_last_row" not in whole.metadata  # the complete file reads whole
    expected_times = whole.table.column("test_time_s").to_pylist()[:-1]
    for keep, cut, line in cuts_inside_the_last_line(content):
        path = tmp_path / name
        path.write_bytes(cut)
        result = read_cycler_file(path)
        assert result.reader_name == TEXT_FILES[relative]
        dropped = result.metadata["dropped_last_row"]
        assert dropped["line"] == line, (keep, dropped)
        assert dropped["message"] == (f"line {line} was not read: the file ends inside it (the cycler was still "
                                      "writing it); it is read when the grown file arrives")
        assert result.table.num_rows == whole.table.num_rows - 1, keep
        assert result.table.column("test_time_s").to_pylist() == expected_times, keep


@pytest.mark.parametrize("relative", TEXT_FILES)
def test_a_complete_file_without_its_last_line_end_reads_whole(shared_data, tmp_path, relative):
    content = (shared_data / relative).read_bytes()
    path = tmp_path / relative.split("/")[1]
    path.write_bytes(content.rstrip(b"\r\n"))
    result = read_cycler_file(path)
    assert "dropped_last_row" not in result.metadata
    assert result.table.num_rows == read_cycler_file(shared_data / relative).table.num_rows
