"""The mapped-CSV reader: any other cycler's CSV through a saved column mapping."""
import datetime as dt

import pytest

from analysis.core.readers import ReaderError, mapped_csv
from analysis.core.readers.mapped_csv import mapped_csv_reader

EU_MAPPING = {
    "test_time_s": {"column": "Zeit(h)", "scale": 3600},
    "current_ma": {"column": "I/A", "scale": 1000},
    "voltage_v": {"column": "U/V"},
    "cycle_index": {"column": "Zyklus"},
    "charge_capacity_mah": {"column": "Q/Ah", "scale": 1000},
    "delimiter": ";",
    "decimal_separator": ",",
}


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_decimal_comma_semicolon_and_scales(tmp_path):
    path = write(tmp_path, "eu.csv",
                 "Zeit(h);U/V;I/A;Zyklus;Q/Ah;Kommentar\n"
                 "0,0;3,501;0,0;1;0,0;a\n"
                 "0,5;3,6;0,0015;1;0,00075;b\n"
                 "1,25;3,7;-0,002;2;0,00075;c\n")
    result = mapped_csv_reader(EU_MAPPING).read(path)
    df = result.table.to_pandas()
    assert list(df.test_time_s) == [0.0, 1800.0, 4500.0]
    assert list(df.voltage_v) == [3.501, 3.6, 3.7]
    assert list(df.current_ma) == pytest.approx([0.0, 1.5, -2.0])
    assert list(df.cycle_index) == [1, 1, 2]
    assert list(df.charge_capacity_mah) == pytest.approx([0.0, 0.75, 0.75])
    assert result.reader_name == "mapped-csv"
    assert result.metadata["mapping"] == EU_MAPPING


def test_invert_current_sign_and_cp1252_header(tmp_path):
    path = write(tmp_path, "landt.csv",
                 "Temps/s,Tension/V,Courant/µA\n0,3.0,10\n1,3.1,-10\n", encoding="cp1252")
    mapping = {"test_time_s": {"column": "Temps/s"}, "voltage_v": {"column": "Tension/V"},
               "current_ma": {"column": "Courant/µA", "scale": 0.001},
               "invert_current_sign": True, "encoding": "cp1252"}
    df = mapped_csv_reader(mapping).read(path).table.to_pandas()
    assert list(df.current_ma) == pytest.approx([-0.01, 0.01])


def test_durations_timestamps_and_skipped_preamble(tmp_path):
    path = write(tmp_path, "other.csv",
                 "Exported by SomeCycler 2.1\nChannel 4\n"
                 "Total Time,Date,Voltage(V),Current(mA)\n"
                 "00:00:00,2024-03-01 10:00:00,3.0,0\n"
                 "1d 02:00:01.5,2024-03-02 12:00:01,3.2,5\n")
    mapping = {"test_time_s": {"column": "Total Time", "format": "duration"},
               "timestamp": {"column": "Date", "format": "%Y-%m-%d %H:%M:%S"},
               "voltage_v": "Voltage(V)", "current_ma": {"column": "Current(mA)"}, "skip_rows": 2}
    df = mapped_csv_reader(mapping).read(path).table.to_pandas()
    assert list(df.test_time_s) == [0.0, 93601.5]
    assert df.timestamp.iloc[1] == dt.datetime(2024, 3, 2, 12, 0, 1)


def test_missing_mapped_column_is_named(tmp_path):
    path = write(tmp_path, "nocurrent.csv", "Zeit(h);U/V;Zyklus;Q/Ah\n0,0;3,5;1;0\n")
    with pytest.raises(ReaderError) as info:
        mapped_csv_reader(EU_MAPPING).read(path)
    assert info.value.column == "I/A"
    assert "'I/A'" in str(info.value) and "nocurrent.csv" in str(info.value)


def test_time_going_backwards_keeps_the_rows_in_file_order(tmp_path):
    path = write(tmp_path, "back.csv", "t,v,i\n0,3,0\n1,3,0\n2,3,0\n1.5,3,0\n")
    mapping = {"test_time_s": "t", "voltage_v": "v", "current_ma": "i"}
    result = mapped_csv_reader(mapping).read(path)
    assert result.table.column("test_time_s").to_pylist() == [0.0, 1.0, 2.0, 1.5]


def test_bad_number_names_line_and_column(tmp_path):
    path = write(tmp_path, "bad.csv", "t;v;i\n0;3,0;0\n1;3,1;n/a-ish\n")
    mapping = {"test_time_s": "t", "voltage_v": "v", "current_ma": "i",
               "delimiter": ";", "decimal_separator": ","}
    with pytest.raises(ReaderError, match="n/a-ish") as info:
        mapped_csv_reader(mapping).read(path)
    assert (info.value.line, info.value.column) == (3, "i")


def test_ragged_rows(tmp_path):
    mapping = {"test_time_s": "t", "voltage_v": "v", "current_ma": "i"}
    # a last row cut short (file copied while the test ran) is dropped and reported
    cut = write(tmp_path, "cut.csv", "t,v,i\n0,3,0\n1,3,0\n2,3")
    result = mapped_csv_reader(mapping).read(cut)
    assert result.table.num_rows == 2 and result.metadata["dropped_last_row"] == {
        "line": 4, "text": "2,3", "message": "line 4 was not read: the file ends inside it (the cycler was "
                                             "still writing it); it is read when the grown file arrives"}
    # the same with its line end: dropped, and said so
    ended = write(tmp_path, "ended.csv", "t,v,i\n0,3,0\n1,3,0\n2,3\n")
    result = mapped_csv_reader(mapping).read(ended)
    assert result.table.num_rows == 2 and result.metadata["dropped_last_row"] == {
        "line": 4, "text": "2,3", "message": "line 4 was not read: it has 2 of the 3 fields of the header (cut short)"}
    # a number cut in the middle of the last line: its field is shorter than the line before's
    number = write(tmp_path, "number.csv", "t,v,i\n0,3.105,0.25\n1,3.110,0.25\n2,3.115,0.2")
    result = mapped_csv_reader(mapping).read(number)
    assert result.table.num_rows == 2 and result.metadata["dropped_last_row"]["line"] == 4
    # a complete file whose last line has no line end reads whole
    whole = write(tmp_path, "whole.csv", "t,v,i\n0,3.105,0.25\n1,3.110,0.25\n2,3.115,0.25")
    result = mapped_csv_reader(mapping).read(whole)
    assert result.table.num_rows == 3 and "dropped_last_row" not in result.metadata
    # the same in the middle of the file is an error with its line
    ragged = write(tmp_path, "ragged.csv", "t,v,i\n0,3,0\n1,3\n2,3,0\n")
    with pytest.raises(ReaderError, match="2 fields where the header has 3") as info:
        mapped_csv_reader(mapping).read(ragged)
    assert info.value.line == 3


@pytest.mark.parametrize("mapping,message", [
    ({"test_time_s": "t", "voltage_v": "v"}, "no entry for current_ma"),
    ({"test_time_s": "t", "voltage_v": "v", "current_ma": "i", "curent_ma": "x"}, "curent_ma"),
    ({"test_time_s": "t", "voltage_v": "v", "current_ma": {"column": "i", "scale": 0}}, "non-zero"),
    ({"test_time_s": "t", "voltage_v": "v", "current_ma": "i", "delimiter": ",",
      "decimal_separator": ","}, "both ','"),
    ({"test_time_s": "t", "voltage_v": "v", "current_ma": "i", "step_index": {"column": "s", "scale": 2}},
     "index column"),
])
def test_bad_mappings_are_refused(mapping, message):
    with pytest.raises(ReaderError, match=message):
        mapped_csv_reader(mapping)


def test_never_auto_detected(tmp_path):
    reader = mapped_csv_reader({"test_time_s": "t", "voltage_v": "v", "current_ma": "i"})
    assert reader.sniff(b"t,v,i\n0,3,0\n", "x.csv") == 0.0
    assert mapped_csv.READERS == []


def test_million_rows_read_quickly(tmp_path):
    """The benchmark feeds a 1,000,000-row CSV: pyarrow keeps this well under a few seconds."""
    import time

    import numpy as np
    n = 1_000_000
    path = tmp_path / "big.csv"
    t = np.arange(n, dtype=np.float64)
    with open(path, "w") as fh:
        fh.write("Time(h);U/V;I/A\n")
        np.savetxt(fh, np.column_stack([t / 3600, 3 + t * 1e-7, np.full(n, 0.001)]), delimiter=";",
                   fmt="%.6f")
    mapping = {"test_time_s": {"column": "Time(h)", "scale": 3600}, "voltage_v": "U/V",
               "current_ma": {"column": "I/A", "scale": 1000}, "delimiter": ";"}
    start = time.perf_counter()
    table = mapped_csv_reader(mapping).read(path).table
    elapsed = time.perf_counter() - start
    assert table.num_rows == n
    assert elapsed < 5.0
