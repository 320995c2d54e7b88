"""Battery Data Format CSV: the SINTEF/Landt reference file and generated preferred-label files."""
import pytest

from analysis.core.readers import ReaderError
from analysis.core.readers.bdf import READERS, BdfCsvReader

BDF = "generic_csv/SINTEF__LiGrR2032__2024-04-30__25degC__Landt.bdf.csv"


@pytest.fixture(scope="module")
def landt(shared_data):
    return BdfCsvReader().read(shared_data / BDF)


def test_reference_file_rows_and_columns(landt):
    table = landt.table
    assert table.num_rows == 25162
    assert table.column_names == ["test_time_s", "current_ma", "voltage_v", "step_index",
                                  "charge_capacity_mah", "discharge_capacity_mah"]
    df = table.to_pandas()
    # first row: '0.020,2.9215,0.0000,1,0,0,0'; last: '262657.764,0.1086,-0.0002,2,0.0013,0,0'
    assert (df.test_time_s.iloc[0], df.voltage_v.iloc[0], df.current_ma.iloc[0]) == (0.02, 2.9215, 0.0)
    assert df.test_time_s.iloc[-1] == 262657.764
    assert df.current_ma.iloc[-1] == pytest.approx(-0.2)  # A -> mA
    assert df.discharge_capacity_mah.iloc[-1] == pytest.approx(1.3)  # Ah -> mAh


def test_reference_file_sign_convention(landt):
    """BDF: positive = charge. Lithiating graphite vs Li (voltage falling to 0.01 V) is the
    discharge of this half cell: negative current, discharge counter growing."""
    df = landt.table.to_pandas()
    lithiation = df[(df.step_index == 2) & (df.test_time_s < 171000)]
    assert (lithiation.current_ma < 0).all()
    assert lithiation.voltage_v.iloc[-1] < lithiation.voltage_v.iloc[0]
    assert lithiation.voltage_v.min() == pytest.approx(0.01, abs=0.005)
    assert lithiation.discharge_capacity_mah.iloc[-1] > lithiation.discharge_capacity_mah.iloc[0]
    delithiation = df[df.step_index == 3]
    assert (delithiation.current_ma > 0).all()
    assert delithiation.charge_capacity_mah.iloc[-1] > 0


def test_all_zero_ambient_temperature_is_dropped(landt):
    assert "temperature_c" not in landt.table.column_names
    assert "ambient_temperature_celsius" in landt.metadata["dropped"]


def test_preferred_labels_in_hours(tmp_path):
    path = tmp_path / "batmo_bdf.csv"
    path.write_text("Test Time / h,Voltage / V,Current / A,Step Index / 1,Cycle Count / 1,"
                    "Charge Capacity / Ah,Discharge Capacity / Ah,Ambient Temperature / degC\n"
                    "0.0,3.0,0.0,1,1,0,0,25.0\n"
                    "0.5,3.5,0.002,2,1,0.001,0,25.5\n")
    reader = BdfCsvReader()
    assert reader.sniff(path.read_bytes(), path.name) > 0.5
    df = reader.read(path).table.to_pandas()
    assert list(df.test_time_s) == [0.0, 1800.0]
    assert list(df.current_ma) == [0.0, 2.0]
    assert list(df.cycle_index) == [1, 1]
    assert list(df.charge_capacity_mah) == [0.0, 1.0]
    assert list(df.temperature_c) == [25.0, 25.5]


def test_labels_with_milli_units_and_semicolons(tmp_path):
    path = tmp_path / "milli.bdf.csv"
    path.write_text("Test Time / s;Voltage / mV;Current / mA;Unix Time / s\n"
                    "1,5;3500,0;-0,5;1700000000\n"
                    "2,5;3400,0;-0,5;1700000001\n")
    df = BdfCsvReader().read(path).table.to_pandas()
    assert list(df.test_time_s) == [1.5, 2.5]
    assert list(df.voltage_v) == [3.5, 3.4]
    assert list(df.current_ma) == [-0.5, -0.5]
    assert str(df.timestamp.iloc[0]) == "2023-11-14 22:13:20"


def test_missing_current_column_is_named(tmp_path):
    path = tmp_path / "nocurrent.bdf.csv"
    path.write_text("test_time_second,voltage_volt\n0,3.0\n")
    with pytest.raises(ReaderError) as info:
        BdfCsvReader().read(path)
    assert info.value.column == "current_ampere"
    assert "current_ampere" in str(info.value) and "nocurrent.bdf.csv" in str(info.value)


def test_bad_number_names_line_and_column(tmp_path):
    path = tmp_path / "bad.bdf.csv"
    path.write_text("test_time_second,voltage_volt,current_ampere\n0,3.0,0\n1,3.1,oops\n")
    with pytest.raises(ReaderError, match="oops") as info:
        BdfCsvReader().read(path)
    assert (info.value.line, info.value.column) == (3, "current_ampere")


def test_time_going_backwards_keeps_the_rows_in_file_order(tmp_path):
    path = tmp_path / "back.bdf.csv"
    path.write_text("test_time_second,voltage_volt,current_ampere\n0,3.0,0\n2,3.1,0\n1,3.1,0\n")
    assert BdfCsvReader().read(path).table.column("test_time_s").to_pylist() == [0.0, 2.0, 1.0]


def test_sniff(shared_data):
    reader = BdfCsvReader()
    with open(shared_data / BDF, "rb") as fh:
        assert reader.sniff(fh.read(65536), BDF) >= 0.95
    with open(shared_data / "arbin_csv/sample_data_arbin.csv", "rb") as fh:
        assert reader.sniff(fh.read(65536), "x.bdf.csv") == 0.0
    # BioLogic's 'time/s' style is not a BDF label (no spaces around the slash)
    assert reader.sniff(b"time/s\tEwe/V\tI/mA\n0\t3\t0\n", "x.csv") == 0.0


def test_readers_list():
    assert [r.name for r in READERS] == ["bdf-csv"]
