"""What a reader says when a file cannot be read is what the lab needs to fix it: the column a
format lacks and the columns the file has, the line and column of a value that is not a number,
and exports made with a German locale (';' between fields, decimal commas) read as any other."""
import re

import pytest

from analysis.core.readers import ReaderError
from analysis.core.readers.registry import read_cycler_file


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path) -> str:
    with pytest.raises(ReaderError) as info:
        read_cycler_file(path)
    return str(info.value)


# --------------------------------------------------------------------------- a column missing


def test_a_battery_data_format_csv_without_its_current_names_it_and_the_columns_it_has(tmp_path):
    path = write(tmp_path, "no-current.bdf.csv", "test_time_second,voltage_volt,step_index\n0,3.1,1\n1,3.2,1\n")
    assert refusal(path) == (
        "file no-current.bdf.csv: no current column: a Battery Data Format CSV needs current_ampere "
        "(or 'Current / A'); the file has the columns 'test_time_second', 'voltage_volt', 'step_index'")


def test_a_csv_with_labels_but_no_time_and_no_voltage_names_both(tmp_path):
    path = write(tmp_path, "labels.csv", "Current / mA,Temperature / degC\n1,25\n")
    assert refusal(path) == (
        "file labels.csv: no test time and no voltage column: a Battery Data Format CSV needs "
        "test_time_second (or 'Test Time / s'), voltage_volt (or 'Voltage / V'); the file has the columns "
        "'Current / mA', 'Temperature / degC'")


def test_an_arbin_csv_without_its_voltage_names_it_and_the_columns_it_has(tmp_path):
    path = write(tmp_path, "channel_3.csv",
                 "Data_Point,Test_Time(s),Step_Index,Cycle_Index,Current(A)\n1,0.0,1,1,0.001\n")
    assert refusal(path) == (
        "file channel_3.csv: no voltage column: an Arbin CSV export needs Voltage(V); the file has the columns "
        "'Data_Point', 'Test_Time(s)', 'Step_Index', 'Cycle_Index', 'Current(A)'")


def test_a_neware_export_without_its_current_names_it_and_the_record_columns(shared_data, tmp_path):
    lines = (shared_data / "neware_csv/nw_regular_export_ife_example.csv").read_bytes().split(b"\n")[:40]
    lines[2] = lines[2].replace(b"Current(A)", b"Strom")
    path = tmp_path / "neware.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    message = refusal(path)
    assert message.startswith("file neware.csv, line 3: the record header has no current column "
                              "(Current(mA) or Current(A)); it has the columns ")
    assert "'Strom'" in message and "'Voltage(V)'" in message


def test_a_csv_of_another_cycler_lists_its_columns_and_asks_for_a_mapping(tmp_path):
    path = write(tmp_path, "other.csv", "Zeit(h);U/V;I/A\n0,0;3,5;0,001\n")
    assert refusal(path) == (
        "file other.csv: not a recognised cycler format: its columns 'Zeit(h)', 'U/V', 'I/A' are not those of "
        "a BioLogic, Neware, Arbin, Maccor or Battery Data Format export (time, current and voltage); a CSV "
        "from another cycler needs a column mapping (admin, Cyclers)")


# --------------------------------------------------------------------------- where a value is wrong


def test_a_value_that_is_not_a_number_names_its_line_and_column(tmp_path):
    path = write(tmp_path, "typo.bdf.csv",
                 "test_time_second,voltage_volt,current_ampere\n0,3.1,0.001\n1,3.2,0.001\n2,3.x,0.001\n3,3.3,0.001\n")
    assert refusal(path) == "file typo.bdf.csv, line 4, column 'voltage_volt': not a number: '3.x'"


def test_a_decimal_point_in_a_decimal_comma_file_is_named_with_the_files_separator(tmp_path):
    path = write(tmp_path, "german.bdf.csv", "test_time_second;voltage_volt;current_ampere\n"
                                              "0;3,1;0,001\n1;3,2;0,001\n2;3.25;0,001\n3;3,3;0,001\n")
    assert refusal(path) == ("file german.bdf.csv, line 4, column 'voltage_volt': not a number: '3.25' "
                             "(the file's numbers are written with a decimal comma)")


def test_a_row_with_too_many_fields_names_its_line(tmp_path):
    path = write(tmp_path, "ragged.bdf.csv",
                 "test_time_second,voltage_volt,current_ampere\n0,3.1,0.001\n1,3,2,0.001\n2,3.3,0.001\n")
    message = refusal(path)
    assert message.startswith("file ragged.bdf.csv, line 3: row has 4 fields where the header has 3")


def test_an_unclosed_quote_is_named_with_its_line(tmp_path):
    path = write(tmp_path, "quote.bdf.csv",
                 'test_time_second,voltage_volt,current_ampere\n0,3.1,0.001\n"1,3.2,0.001\n2,3.3,0.001\n')
    assert refusal(path) == ('file quote.bdf.csv, line 3: a quote (") opens a field that does not close on its '
                             "line: '\"1,3.2,0.001'")


def test_no_message_passes_the_parsers_words_through_unexplained(shared_data, tmp_path):
    """Every refusal of a damaged text file starts with the file and says what is wrong in our words
    (pyarrow's, numpy's or Python's own wording appears only after ours, in brackets)."""
    raw_words = re.compile(r"^(In CSV column|CSV parse error|Expected \d+ columns|could not convert|"
                           r"invalid literal|ArrowInvalid|ValueError|struct\.error|unpack requires)")
    original = (shared_data / "arbin_csv/sample_data_arbin.csv").read_bytes()
    lines = original.split(b"\n")
    damaged = {
        "a letter in a number": lines[:5] + [lines[5].replace(b",150.0017,", b",15x.0017,", 1)] + lines[6:],
        "an unclosed quote": lines[:5] + [b'"' + lines[5]] + lines[6:],
        "a field too many": lines[:5] + [lines[5] + b",1"] + lines[6:],
    }
    for what, content in damaged.items():
        path = tmp_path / "sample_data_arbin.csv"
        path.write_bytes(b"\n".join(content))
        try:
            read_cycler_file(path)
        except ReaderError as error:
            assert str(error).startswith("file sample_data_arbin.csv"), (what, str(error))
            assert not raw_words.match(error.reason), (what, error.reason)
            continue
        pytest.fail(f"{what}: read without a word")


# --------------------------------------------------------------------------- German exports


def german(text: str, delimiter: str = ",") -> str:
    """The same export as a German locale writes it: ';' between fields, a decimal comma."""
    out = []
    for line in text.splitlines():
        fields = [re.sub(r"^(\s*[-+]?\d*)\.(\d)", r"\1,\2", field) for field in line.split(delimiter)]
        out.append(";".join(fields))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("relative, reader", [
    ("arbin_csv/sample_data_arbin.csv", "arbin-csv"),
    ("generic_csv/SINTEF__LiGrR2032__2024-04-30__25degC__Landt.bdf.csv", "bdf-csv"),
    ("neware_csv/nw_regular_export_ife_example.csv", "neware-csv"),
])
def test_an_export_with_semicolons_and_decimal_commas_reads_as_the_original(shared_data, tmp_path, relative, reader):
    original = shared_data / relative
    path = tmp_path / original.name
    path.write_text(german(original.read_bytes().decode("utf-8-sig")), encoding="utf-8")
    assert ";" in path.read_text().splitlines()[0] and "," in path.read_text().splitlines()[3]
    expected, result = read_cycler_file(original), read_cycler_file(path)
    assert result.reader_name == reader
    assert result.table.equals(expected.table)


def test_a_generated_german_arbin_export_gives_the_hand_computed_numbers(tmp_path):
    path = write(tmp_path, "kanal_1.csv",
                 "Data_Point;Test_Time(s);Step_Index;Cycle_Index;Current(A);Voltage(V)\n"
                 "1;0,0;1;1;0,0015;3,1250\n2;10,5;1;1;0,0015;3,2500\n3;21,0;1;1;-0,0015;3,1000\n")
    result = read_cycler_file(path)
    assert result.reader_name == "arbin-csv"
    assert result.table.column("test_time_s").to_pylist() == [0.0, 10.5, 21.0]
    assert result.table.column("current_ma").to_pylist() == pytest.approx([1.5, 1.5, -1.5])
    assert result.table.column("voltage_v").to_pylist() == [3.125, 3.25, 3.1]
    assert (result.metadata["delimiter"], result.metadata["decimal_separator"]) == (";", ",")
