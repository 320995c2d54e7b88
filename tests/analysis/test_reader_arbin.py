"""Arbin readers: .res (JET4 via access_parser), .xlsx export, MITS Pro and beep CSV."""
import datetime as dt

import numpy as np
import pytest

from analysis.core.readers import ReaderError
from analysis.core.readers.arbin import (
    READERS,
    ArbinCsvReader,
    ArbinResReader,
    ArbinXlsxReader,
)

RES = "arbin_res/arbin_example.res"
XLSX = "arbin_xlsx/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx"
CSV = "arbin_csv/sample_data_arbin.csv"


@pytest.fixture(scope="module")
def res(shared_data):
    return ArbinResReader().read(shared_data / RES)


def head(path, n=65536):
    with open(path, "rb") as fh:
        return fh.read(n)


def segment_capacities(table, cycle, sign):
    """(∫|I|dt by trapezoid, counter increase) summed over the step visits of one cycle whose
    current has this sign, each visit integrated over its own rows only (mAh)."""
    df = table.to_pandas()
    df = df[df.cycle_index == cycle]
    visit = ((df.step_index != df.step_index.shift()) | (df.cycle_index != df.cycle_index.shift())).cumsum()
    counter = "charge_capacity_mah" if sign > 0 else "discharge_capacity_mah"
    integral = counted = 0.0
    for _, seg in df.groupby(visit):
        current = seg.current_ma.to_numpy()
        if not np.any(np.sign(current) == sign):
            continue
        t = seg.test_time_s.to_numpy()
        i = np.abs(current)
        integral += float(np.sum((i[1:] + i[:-1]) / 2 * np.diff(t)) / 3600)
        counted += float(seg[counter].iloc[-1] - seg[counter].iloc[0])
    return integral, counted


# --------------------------------------------------------------------------- .res

def test_res_reads_every_row_sorted_by_data_point(res):
    table = res.table
    assert table.num_rows == 2150
    # the file stores one block out of order: the reader must have sorted it
    assert res.metadata["rows_stored_in_data_point_order"] is False
    time = table.column("test_time_s").to_numpy()
    assert np.all(np.diff(time) >= 0)
    assert time[0] == pytest.approx(0.0726, abs=1e-4)
    assert time[-1] == pytest.approx(345733.389, abs=1e-2)


def test_res_cycles_units_and_sign(res):
    df = res.table.to_pandas()
    assert sorted(df.cycle_index.unique()) == [1, 2, 3, 4, 5]
    # about ±86.5 µA between 3.0 and 4.3 V, about 0.48 mAh per cycle
    assert df.current_ma.abs().max() == pytest.approx(0.0865, rel=0.02)
    assert df.voltage_v.min() == pytest.approx(3.0, abs=0.01)
    assert df.voltage_v.max() == pytest.approx(4.3, abs=0.01)
    assert df.groupby("cycle_index").charge_capacity_mah.max().loc[1] == pytest.approx(0.4835, rel=1e-3)
    # positive current = charge: the voltage rises and the charge counter grows in step 2
    charge = df[(df.cycle_index == 1) & (df.step_index == 2)]
    assert (charge.current_ma > 0).all()
    assert charge.voltage_v.iloc[-1] > charge.voltage_v.iloc[0]
    assert charge.charge_capacity_mah.is_monotonic_increasing
    discharge = df[(df.cycle_index == 1) & (df.step_index == 3)]
    assert (discharge.current_ma < 0).all()
    assert discharge.discharge_capacity_mah.iloc[-1] > discharge.discharge_capacity_mah.iloc[0]


def test_res_timestamps_and_metadata(res):
    stamps = res.table.column("timestamp").to_pylist()
    assert stamps[0] == dt.datetime(2023, 7, 24, 18, 50, 0)
    assert stamps[1] - stamps[0] == dt.timedelta(minutes=5)
    assert res.metadata["test_name"] == "ajm314_LCO_ajm5-SSB1-F_Wait48hr-Repeat-01-012"
    assert res.metadata["start_datetime"] == "2023-07-24T18:50:00"


@pytest.mark.parametrize("cycle", [1, 2, 3, 4])
@pytest.mark.parametrize("sign", [1, -1], ids=["charge", "discharge"])
def test_res_integrated_capacity_matches_counters(res, cycle, sign):
    integral, counted = segment_capacities(res.table, cycle, sign)
    assert counted > 0.45  # mAh: a real half cycle, not an empty selection
    assert integral == pytest.approx(counted, rel=1e-3)


def test_res_sniff(shared_data):
    reader = ArbinResReader()
    assert reader.sniff(head(shared_data / RES), "arbin_example.res") >= 0.9
    # an Access database whose catalogue is not in the head: still probably Arbin, just less sure
    assert 0.5 < reader.sniff(b"\x00\x01\x00\x00Standard Jet DB\x00" + b"\x00" * 100, "x.res") < 0.9
    assert reader.sniff(head(shared_data / CSV), "x.res") == 0.0


def test_res_rejects_a_non_access_file(tmp_path):
    bad = tmp_path / "broken.res"
    bad.write_bytes(b"\x00\x01\x00\x00Standard Jet DB\x00" + b"\x00" * 5000)
    with pytest.raises(ReaderError, match="broken.res"):
        ArbinResReader().read(bad)


# --------------------------------------------------------------------------- .xlsx

def test_xlsx_reads_channel_sheet(shared_data):
    result = ArbinXlsxReader().read(shared_data / XLSX)
    df = result.table.to_pandas()
    assert len(df) == 4526
    assert result.metadata["sheets"] == ["Channel_11_1"]
    assert result.metadata["test_name"] == "bs542_004_gr_li_50ua_50mv_1v_191020"
    assert sorted(df.cycle_index.unique()) == [1]
    assert df.voltage_v.min() == pytest.approx(0.05, abs=0.001)
    assert df.voltage_v.max() == pytest.approx(2.64, abs=0.01)
    assert df.current_ma.min() == pytest.approx(-0.050, abs=0.001)  # A -> mA
    assert df.timestamp.iloc[0] == dt.datetime(2020, 10, 19, 11, 31, 46, 582000)
    # graphite vs Li: negative current (discharge, lithiation) drives the voltage down
    falling = df[df.current_ma < 0]
    assert falling.voltage_v.iloc[0] > falling.voltage_v.min()
    assert df.discharge_capacity_mah.max() == pytest.approx(11.0549, rel=1e-4)


def test_xlsx_sniff(shared_data):
    reader = ArbinXlsxReader()
    assert reader.sniff(head(shared_data / XLSX), "export.xlsx") >= 0.9
    assert reader.sniff(head(shared_data / RES), "export.xlsx") == 0.0


def test_xlsx_sniff_reads_sheet_names_from_a_streamed_zip():
    """Some writers stream the ZIP (sizes in data descriptors after each member)."""
    import io
    import zipfile

    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.data += b
            return len(b)

    out = Unseekable()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("[Content_Types].xml", "w") as member:
            member.write(b"<Types/>" * 50)
        with archive.open("xl/workbook.xml", "w") as member:
            member.write(b'<workbook><sheets><sheet name="Global_Info" sheetId="1"/>'
                         b'<sheet name="Channel_1_1" sheetId="2"/></sheets></workbook>')
    assert bytes(out.data[6:7])[0] & 0x08  # the data-descriptor flag is set
    assert ArbinXlsxReader().sniff(bytes(out.data), "anything.xlsx") >= 0.9


def test_xlsx_sheets_are_concatenated_in_order(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.title = "Global_Info"
    header = ["Date_Time", "Test_Time(s)", "Step_Index", "Cycle_Index", "Voltage(V)", "Current(A)"]
    for k in (10, 2, 9):  # Excel's row limit splits long tests; 'Channel_3_10' sorts last
        sheet = workbook.create_sheet(f"Channel_3_{k}")
        sheet.append(header)
        sheet.append([dt.datetime(2024, 1, 1, 0, 0, k), float(k), 1, 1, 3.0 + k / 100, 0.001])
    path = tmp_path / "long.xlsx"
    workbook.save(path)
    result = ArbinXlsxReader().read(path)
    assert result.metadata["sheets"] == ["Channel_3_2", "Channel_3_9", "Channel_3_10"]
    assert result.table.column("test_time_s").to_pylist() == [2.0, 9.0, 10.0]
    assert result.table.column("current_ma").to_pylist() == [1.0, 1.0, 1.0]


# --------------------------------------------------------------------------- CSV

def test_mits_pro_csv(shared_data):
    result = ArbinCsvReader().read(shared_data / CSV)
    df = result.table.to_pandas()
    # SOURCES.md says 12 data rows; the file holds Data Points 1..13 (its last line has no newline)
    assert len(df) == 13
    # values read by eye: row 1 '1,\t09/20/2024 08:32:34.558,30.0005,...,0,3.534595,...,24.66422'
    assert df.test_time_s.iloc[0] == 30.0005
    assert df.current_ma.iloc[0] == 0.0
    assert df.voltage_v.iloc[0] == 3.534595
    assert df.temperature_c.iloc[0] == 24.66422
    # the tab before the date is gone
    assert df.timestamp.iloc[0] == dt.datetime(2024, 9, 20, 8, 32, 34, 558000)
    # row 12: the first charge point, 2.647604 A at 3.594547 V
    assert df.current_ma.iloc[11] == pytest.approx(2647.604)
    assert df.voltage_v.iloc[11] == 3.594547
    assert df.charge_capacity_mah.iloc[12] == pytest.approx(0.400839)
    assert list(df.step_index) == [1] * 10 + [2] + [3] * 2


def test_csv_with_bom_on_a_needed_column(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfTest Time (s),Date Time,Step Index,Current (A),Voltage (V)\r\n"
                     b"1.5,\t09/20/2024 08:32:34.558,1,0.001,3.5\r\n"
                     b"2.5,\t09/20/2024 08:32:35.558,1,-0.002,3.4\r\n")
    reader = ArbinCsvReader()
    assert reader.sniff(path.read_bytes(), path.name) > 0.5
    result = reader.read(path)
    assert result.metadata["columns"]["test_time_s"] == "Test Time (s)"  # no BOM left on the name
    df = result.table.to_pandas()
    assert list(df.test_time_s) == [1.5, 2.5]
    assert list(df.current_ma) == [1.0, -2.0]
    assert df.timestamp.iloc[1] == dt.datetime(2024, 9, 20, 8, 32, 35, 558000)


def test_beep_underscore_csv(tmp_path):
    path = tmp_path / "FastCharge_CH8.csv"
    path.write_text(
        "Data_Point,Test_Time,DateTime,Step_Time,Step_Index,Cycle_Index,Current,Voltage,"
        "Charge_Capacity,Discharge_Capacity,Charge_Energy,Discharge_Energy,dV/dt,Internal_Resistance,"
        "Temperature\n"
        "0,10.0024,1494645243.4715,10.0024,0.0,0.0,0.0,3.3011441,0.0,0.0,0.0,0.0,-1.1e-05,0.0,30.109268\n"
        "1,20.0059,1494645253.475,20.0059,1.0,1.0,1.1,3.4011355,0.0001,0.0,0.0003,0.0,-1.0e-05,0.0,30.1\n")
    reader = ArbinCsvReader()
    assert reader.sniff(path.read_bytes(), path.name) > 0.5
    result = reader.read(path)
    df = result.table.to_pandas()
    assert list(df.step_index) == [0, 1] and list(df.cycle_index) == [0, 1]
    assert list(df.current_ma) == [0.0, 1100.0]
    assert df.charge_capacity_mah.iloc[1] == pytest.approx(0.1)
    assert df.temperature_c.iloc[0] == 30.109268
    # epoch seconds, as UTC
    assert df.timestamp.iloc[0] == dt.datetime(2017, 5, 13, 3, 14, 3, 471500)
    assert result.metadata["timestamp_timezone"] == "UTC"


def test_csv_missing_current_column_is_named(tmp_path):
    path = tmp_path / "nocurrent.csv"
    path.write_text("Data Point,Test Time (s),Step Index,Voltage (V)\n1,0.0,1,3.5\n")
    with pytest.raises(ReaderError) as info:
        ArbinCsvReader().read(path)
    assert info.value.column == "Current (A)"
    assert "Current (A)" in str(info.value) and "nocurrent.csv" in str(info.value)


def test_csv_time_going_backwards_keeps_the_rows_in_file_order(tmp_path):
    path = tmp_path / "back.csv"
    path.write_text("Data Point,Test Time (s),Step Index,Current (A),Voltage (V)\n"
                    "1,0.0,1,0,3.5\n2,10.0,1,0,3.5\n3,5.0,1,0,3.5\n")
    assert ArbinCsvReader().read(path).table.column("test_time_s").to_pylist() == [0.0, 10.0, 5.0]


def test_readers_list():
    assert [r.name for r in READERS] == ["arbin-res", "arbin-xlsx", "arbin-csv"]
    assert all(r.version for r in READERS)


# --------------------------------------------------------------------------- _Metadata.csv

METADATA_CSV = (
    ",test_id,device_id,iv_ch_id,first_start_datetime,resumed_times,last_resume_datetime,"
    "last_end_datetime,schedule_file_name,databases,item_id,grade_id,has_aux,has_special,"
    "schedule_version,log_aux_data_flag,log_special_data_flag,rowstate,canconfig_filename,"
    "m_ncanconfigmd5,value,value2\n"
    '0,153,60369369,7,1494645214,0,0,1494636676,2017-05-12_TESTS\\20170512-4_4C-80PER_4_4C.SDU,'
    '"ArbinResult_6,ArbinResult_7,",EL150800453116,0,3,0,Schedule Version 7.00.08,1,0,0,,,0.0,0.0\n')


def test_a_metadata_companion_is_read_as_the_settings_of_its_data_file(tmp_path):
    from analysis.core.readers.registry import detect, read_companion

    path = tmp_path / "FastCharge_000025_CH8_Metadata.csv"
    path.write_text(METADATA_CSV)
    companion = read_companion(path)
    assert companion.describes == "FastCharge_000025_CH8"
    assert companion.reader_name == "arbin-metadata-csv"
    assert companion.metadata["test_id"] == 153 and companion.metadata["iv_ch_id"] == 7
    assert companion.metadata["schedule_file_name"] == "2017-05-12_TESTS\\20170512-4_4C-80PER_4_4C.SDU"
    assert companion.metadata["first_start_datetime"] == "2017-05-13T03:13:34"
    assert companion.metadata["databases"] == "ArbinResult_6,ArbinResult_7,"
    # as a data file it is refused with a message saying what it is
    with pytest.raises(ReaderError, match="settings of FastCharge_000025_CH8, not data points"):
        detect(path)
    # a data file is no companion
    data = tmp_path / "FastCharge_000025_CH8.csv"
    data.write_text("Data_Point,Test_Time,Current,Voltage\n0,0.0,0.0,3.3\n")
    assert read_companion(data) is None
