"""Neware readers (.nda, .ndax, BTSDA CSV) against the shared real files.

The key check integrates |I| dt (trapezoid) over each cycle's charge and discharge records and
compares the result with the cycler's own capacity: the cycle rows of the CSV export, and the
per-step counters of TestFile.nda.
"""
import zipfile

import numpy as np
import pytest

from analysis.core.readers import CANONICAL_COLUMNS, ReaderError
from analysis.core.readers.neware import (
    NDA_READER,
    NDAX_READER,
    NEWARE_CSV_READER,
    READER_VERSION,
    READERS,
)

NDA_V130 = "neware_nda/TestFile.nda"
NDA_V29 = "neware_nda/new_nda_file.nda"
NDAX = "neware_ndax/test.ndax"
CSV = "neware_csv/nw_regular_export_ife_example.csv"

ALL = ["test_time_s", "current_ma", "voltage_v", "step_index", "cycle_index",
       "charge_capacity_mah", "discharge_capacity_mah", "charge_energy_mwh",
       "discharge_energy_mwh", "temperature_c", "timestamp"]
NO_TEMPERATURE = [c for c in ALL if c != "temperature_c"]
assert [c for c in CANONICAL_COLUMNS if c in ALL] == ALL  # canonical order
SHARED = {
    # file: (reader, records, canonical columns)
    NDA_V130: (NDA_READER, 6670, ALL),
    NDA_V29: (NDA_READER, 439, NO_TEMPERATURE),
    NDAX: (NDAX_READER, 1464, NO_TEMPERATURE),
    CSV: (NEWARE_CSV_READER, 9295, ALL),
}


@pytest.fixture(scope="module")
def results(shared_data):
    return {name: reader.read(shared_data / name) for name, (reader, _n, _c) in SHARED.items()}


def column(result, name):
    return result.table.column(name).to_numpy(zero_copy_only=False)


def segments(result):
    """(cycle, direction, start, stop) for each run of records of one step."""
    step = column(result, "step_index")
    cycle = column(result, "cycle_index")
    current = column(result, "current_ma")
    change = np.flatnonzero((np.diff(step) != 0) | (np.diff(cycle) != 0)) + 1
    bounds = np.concatenate(([0], change, [len(step)]))
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        median = np.median(current[a:b])
        if median != 0:
            out.append((int(cycle[a]), "charge" if median > 0 else "discharge", a, b))
    return out


def integrated_mah(result):
    """{(cycle, direction): trapezoid integral of |I| dt within each step, in mAh}."""
    t = column(result, "test_time_s")
    current = np.abs(column(result, "current_ma"))
    totals = {}
    for cyc, direction, a, b in segments(result):
        q = float(np.sum((current[a + 1:b] + current[a:b - 1]) / 2 * np.diff(t[a:b]))) / 3600
        totals[(cyc, direction)] = totals.get((cyc, direction), 0.0) + q
    return totals


def vendor_mah(result):
    out = {}
    for row in result.metadata["vendor_cycle_summary"]:
        for direction in ("charge", "discharge"):
            value = row[f"{direction}_capacity_mah"]
            if value:
                out[(row["cycle_index"], direction)] = value
    return out


# --------------------------------------------------------------------------- the real files

@pytest.mark.parametrize("name", list(SHARED))
def test_shared_file_reads_into_the_canonical_table(results, name):
    reader, records, columns = SHARED[name]
    result = results[name]
    assert result.reader_name == reader.name
    assert result.reader_version == reader.version == READER_VERSION
    assert result.table.num_rows == records
    assert result.table.column_names == columns
    assert result.metadata["record_count"] == records
    t = column(result, "test_time_s")
    assert np.isfinite(t).all()
    assert np.all(np.diff(t) >= 0), "test time must not go backwards"
    assert result.table.column("step_index").null_count == 0
    assert result.table.column("cycle_index").null_count == 0


@pytest.mark.parametrize("name", [NDA_V130, NDA_V29, NDAX])
def test_binary_metadata_names_newarenda(results, name):
    from importlib.metadata import version
    metadata = results[name].metadata
    assert metadata["newarenda_version"] == version("NewareNDA")
    assert metadata["vendor_cycle_summary"], "per-cycle vendor capacities"


def test_nda_metadata(results):
    v130, v29 = results[NDA_V130].metadata, results[NDA_V29].metadata
    assert v130["nda_version"] == 130 and v130["bts_version"].startswith("9.1")
    assert v130["start_time"] == "2024-05-27T08:02:53.970000"  # Unix time, given as UTC
    assert v130["timestamp_timezone"].startswith("UTC")
    assert v29["nda_version"] == 29 and "7.6.0" in v29["server_version"]
    assert v29["active_mass_mg"] == pytest.approx(1.0)
    assert v29["timestamp_timezone"].startswith("local")


def test_ndax_metadata(results):
    metadata = results[NDAX].metadata
    assert metadata["step_file"] == "fs6_cycling.xml"
    assert metadata["start_time"] == metadata["test_start_time"] == "2024-02-01T20:24:23"
    assert metadata["test_end_time"] == "2024-02-02T08:34:23"
    assert "8.0.0" in metadata["client_version"]


@pytest.mark.parametrize("name", [NDA_V29, NDAX])
def test_step_time_is_accumulated_into_test_time(results, name):
    """NewareNDA's Time restarts with every step in these files; the test time must match
    the wall clock over the whole test."""
    result = results[name]
    assert "step time" in result.metadata["time_source"]
    t = column(result, "test_time_s")
    stamps = column(result, "timestamp").astype("datetime64[ms]").astype(np.int64) / 1000
    elapsed = stamps[-1] - stamps[0]
    assert t[-1] - t[0] == pytest.approx(elapsed, abs=2.0)  # timestamps have 1 s resolution
    assert elapsed > 600


def test_nda_v130_time_is_total_time(results):
    result = results[NDA_V130]
    assert "total test time" in result.metadata["time_source"]
    t = column(result, "test_time_s")
    assert t[-1] == pytest.approx(72373.26, abs=0.05)  # 3 cycles, about 20 h


@pytest.mark.parametrize("name", list(SHARED))
def test_current_is_positive_while_charging(results, name):
    result = results[name]
    assert result.metadata["current_sign"].startswith("as stored")
    current = column(result, "current_ma")
    charge = column(result, "charge_capacity_mah")
    discharge = column(result, "discharge_capacity_mah")
    # the counters run in the step's direction; the current must have the matching sign
    assert np.all(current[charge > 0] > 0)
    assert np.all(current[discharge > 0] < 0)
    assert (charge > 0).any() and (discharge > 0).any()


def test_current_magnitudes_and_temperature(results):
    nda = results[NDA_V130]
    current = column(nda, "current_ma")
    assert current.max() == pytest.approx(1200, rel=0.01)   # CC charge at 1.2 A
    assert current.min() == pytest.approx(-3000, rel=0.01)  # CC discharge at 3 A
    assert 20 < np.nanmedian(column(nda, "temperature_c")) < 30
    csv = results[CSV]
    assert np.abs(column(csv, "current_ma")).max() == pytest.approx(500.0)  # A -> mA
    assert np.nanmedian(column(csv, "temperature_c")) == pytest.approx(26.7, abs=0.5)


# --------------------------------------------------------------------------- CSV cycle checks

def test_csv_vendor_cycle_summary(results):
    summary = results[CSV].metadata["vendor_cycle_summary"]
    assert [row["cycle_index"] for row in summary] == list(range(1, 21))
    keys = {"cycle_index", "charge_capacity_mah", "discharge_capacity_mah", "charge_energy_mwh",
            "discharge_energy_mwh"}
    assert all(keys <= set(row) for row in summary)
    discharge = [row["discharge_capacity_mah"] for row in summary]
    assert discharge[0] == pytest.approx(330.67)
    assert discharge[-1] == pytest.approx(263.20)
    assert all(b < a for a, b in zip(discharge[1:], discharge[2:])), "fades from cycle 2 on"
    assert summary[1]["charge_energy_mwh"] == pytest.approx(1464.54)
    assert summary[1]["coulombic_efficiency_pct"] == pytest.approx(101.20)


def test_csv_step_and_cycle_attached_to_records(results):
    result = results[CSV]
    cycle = column(result, "cycle_index")
    step = column(result, "step_index")
    assert sorted(set(cycle)) == list(range(1, 21))
    assert sorted(set(step)) == [1, 2, 3, 4, 5]
    # first record rows sit under the merged cycle-1/step-1 row: a rest
    assert step[0] == 1 and cycle[0] == 1 and column(result, "current_ma")[0] == 0
    assert str(result.table.column("timestamp")[0]) == "2026-03-06 12:37:25"


def test_csv_integrated_current_matches_vendor_cycle_capacity(results):
    """Within 0.1 % for every half-cycle but one. Cycle 1's charge is a 171 s top-up; at the
    export's 1 s time resolution (times truncated to whole seconds) 0.1 % of it is 0.17 s, so
    0.1 % cannot be reached. That half-cycle must then lie within one time quantum of charge:
    |dQ| <= |I| x 1 s."""
    result = results[CSV]
    assert result.metadata["time_resolution_s"] == 1.0
    measured, vendor = integrated_mah(result), vendor_mah(result)
    assert set(measured) == set(vendor) and len(vendor) == 40
    errors = {key: (measured[key] - vendor[key]) / vendor[key] for key in vendor}
    outside = {key for key, err in errors.items() if abs(err) > 1e-3}
    assert outside == {(1, "charge")}, {k: f"{errors[k]:+.4%}" for k in outside}
    quantum_mah = 474.17 * 1.0 / 3600
    assert abs(measured[(1, "charge")] - vendor[(1, "charge")]) <= quantum_mah
    assert max(abs(e) for k, e in errors.items() if k != (1, "charge")) < 1e-3


def test_csv_counters_match_cycle_rows(results):
    """The record rows' per-step capacity counter ends at the cycle row's value (5 decimals)."""
    result = results[CSV]
    charge = column(result, "charge_capacity_mah")
    discharge = column(result, "discharge_capacity_mah")
    cycle = column(result, "cycle_index")
    for row in result.metadata["vendor_cycle_summary"]:
        mask = cycle == row["cycle_index"]
        assert charge[mask].max() == pytest.approx(row["charge_capacity_mah"], abs=0.006)
        assert discharge[mask].max() == pytest.approx(row["discharge_capacity_mah"], abs=0.006)


# --------------------------------------------------------------------------- NDA cycle checks

def test_nda_integrated_current_matches_its_own_counters(results):
    result = results[NDA_V130]
    measured, vendor = integrated_mah(result), vendor_mah(result)
    assert set(vendor) == {(1, "discharge"), (2, "charge"), (2, "discharge"), (3, "charge")}
    assert set(measured) == set(vendor)
    for key in vendor:
        assert measured[key] == pytest.approx(vendor[key], rel=1e-3), key


def test_nda_cycle_capacity_sums_the_steps(results):
    """A CC-CV charge is two steps, and each step's counter restarts. The cycle's charge is
    CC + CV, not the maximum counter value in the cycle."""
    result = results[NDA_V130]
    summary = {row["cycle_index"]: row for row in result.metadata["vendor_cycle_summary"]}
    charge = column(result, "charge_capacity_mah")
    in_cycle_2 = column(result, "cycle_index") == 2
    assert charge[in_cycle_2].max() == pytest.approx(5655.09, abs=0.1)  # the CC step alone
    assert summary[2]["charge_capacity_mah"] == pytest.approx(5811.03, abs=0.1)
    assert summary[2]["discharge_capacity_mah"] == pytest.approx(5806.65, abs=0.1)


# --------------------------------------------------------------------------- sniffing

def head_of(path, size=4096):
    with open(path, "rb") as fh:
        return fh.read(size)


@pytest.mark.parametrize("name", list(SHARED))
def test_sniff_picks_the_right_reader(shared_data, name):
    path = shared_data / name
    head = head_of(path)
    scores = {reader.name: reader.sniff(head, str(path)) for reader in READERS}
    expected = SHARED[name][0].name
    assert scores[expected] >= 0.9, scores
    assert all(score == 0 for reader, score in scores.items() if reader != expected), scores


def test_ndax_sniff_without_a_path_uses_the_first_member(shared_data):
    head = head_of(shared_data / NDAX)
    assert NDAX_READER.sniff(head, "upload.bin") >= 0.85


def test_ndax_sniff_refuses_an_xlsx(shared_data, tmp_path):
    xlsx = next((shared_data / "arbin_xlsx").glob("*.xlsx"))
    assert NDAX_READER.sniff(head_of(xlsx), str(xlsx)) == 0
    assert NDAX_READER.sniff(head_of(xlsx), "renamed.ndax") == 0  # first member says Office


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("reader, suffix", [(NDA_READER, ".nda"), (NDAX_READER, ".ndax"),
                                            (NEWARE_CSV_READER, ".csv")])
def test_empty_file(tmp_path, reader, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(ReaderError, match="empty") as err:
        reader.read(path)
    assert err.value.file == path.name


@pytest.mark.parametrize("name", [NDA_V130, NDA_V29])
def test_truncated_nda(shared_data, tmp_path, name):
    path = tmp_path / "cut.nda"
    path.write_bytes((shared_data / name).read_bytes()[:2000])
    with pytest.raises(ReaderError, match="truncated") as err:
        NDA_READER.read(path)
    assert err.value.file == "cut.nda"


def test_nda_cut_on_a_record_boundary_is_still_refused(shared_data, tmp_path):
    """NewareNDA would return the first 100 records; the missing end-of-data block gives it away."""
    path = tmp_path / "cut.nda"
    path.write_bytes((shared_data / NDA_V130).read_bytes()[:1024 + 56 * 100])
    with pytest.raises(ReaderError, match="end-of-data block"):
        NDA_READER.read(path)


def test_unsupported_nda_version(shared_data, tmp_path):
    data = bytearray((shared_data / NDA_V130).read_bytes())
    data[14] = 31
    path = tmp_path / "v31.nda"
    path.write_bytes(bytes(data))
    with pytest.raises(ReaderError, match=r"NDA version 31 is not supported .*29 and 130"):
        NDA_READER.read(path)


def test_nda_reader_accepts_any_file_name(shared_data, tmp_path):
    """NewareNDA dispatches on the extension; uploads may be stored under other names."""
    path = tmp_path / "upload-1234.bin"
    path.write_bytes((shared_data / NDA_V29).read_bytes())
    assert NDA_READER.read(path).table.num_rows == 439


def test_zip_that_is_not_an_ndax(tmp_path):
    path = tmp_path / "book.ndax"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
    assert NDAX_READER.sniff(head_of(path), str(path)) == 0
    with pytest.raises(ReaderError, match="not a Neware .ndax.*data.ndc"):
        NDAX_READER.read(path)


def test_truncated_ndax(shared_data, tmp_path):
    path = tmp_path / "cut.ndax"
    path.write_bytes((shared_data / NDAX).read_bytes()[:20000])
    with pytest.raises(ReaderError, match="truncated"):
        NDAX_READER.read(path)


def csv_lines(shared_data, count=None):
    text = (shared_data / CSV).read_text()
    lines = text.split("\n")
    return lines if count is None else lines[:count]


def test_csv_garbled_number_names_line_and_column(shared_data, tmp_path):
    lines = csv_lines(shared_data, 60)
    line_no = 20  # 1-based; a record row of the first CC charge step
    fields = lines[line_no - 1].split(",")
    assert fields[:2] == ["", ""] and fields[5] == "0.47417"
    fields[5] = "0.47x17"
    lines[line_no - 1] = ",".join(fields)
    path = tmp_path / "garbled.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReaderError) as err:
        NEWARE_CSV_READER.read(path)
    assert err.value.line == line_no
    assert err.value.column == "Current(A)"
    assert f"line {line_no}" in str(err.value) and "0.47x17" in str(err.value)


def test_csv_garbled_time_names_line_and_column(shared_data, tmp_path):
    lines = csv_lines(shared_data, 60)
    fields = lines[29].split(",")
    fields[4] = "00:0?:15"
    lines[29] = ",".join(fields)
    path = tmp_path / "garbled.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReaderError) as err:
        NEWARE_CSV_READER.read(path)
    assert (err.value.line, err.value.column) == (30, "Total Time")


def test_csv_truncated_mid_row(shared_data, tmp_path):
    path = tmp_path / "cut.csv"
    path.write_bytes((shared_data / CSV).read_bytes()[:5000])
    # like every text reader: the row the cycler was still writing is left out, and said so
    result = NEWARE_CSV_READER.read(path)
    line = len(path.read_bytes().split(b"\n"))
    assert result.metadata["dropped_last_row"]["line"] == line
    assert result.metadata["dropped_last_row"]["message"].startswith(f"line {line} was not read: the file ends")


def test_csv_with_bom_and_crlf_reads_the_same(shared_data, tmp_path, results):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (shared_data / CSV).read_bytes().replace(b"\n", b"\r\n"))
    assert NEWARE_CSV_READER.sniff(head_of(path), str(path)) >= 0.9
    again = NEWARE_CSV_READER.read(path)
    assert again.table.equals(results[CSV].table)
    assert again.metadata["vendor_cycle_summary"] == results[CSV].metadata["vendor_cycle_summary"]


def test_csv_time_formats_days_and_fractions(shared_data, tmp_path):
    """Total Time may carry fractional seconds and a day count; hours may exceed 24."""
    lines = csv_lines(shared_data, 15)  # headers, merged cycle/step row, 11 rest records
    stamps = ["00:00:00.000", "00:00:02.500", "1d 00:00:04", "1-00:00:06.25", "25:00:08",
              "25:00:10", "25:00:12", "25:00:14", "25:00:16", "25:00:18", "25:00:20"]
    for k, stamp in enumerate(stamps):
        fields = lines[4 + k].split(",")
        fields[4] = stamp
        lines[4 + k] = ",".join(fields)
    path = tmp_path / "times.csv"
    path.write_text("\n".join(lines) + "\n")
    t = column(NEWARE_CSV_READER.read(path), "test_time_s")
    assert t[:5].tolist() == [0.0, 2.5, 86404.0, 86406.25, 90008.0]


def test_csv_time_going_backwards_is_refused(shared_data, tmp_path):
    lines = csv_lines(shared_data, 15)
    fields = lines[9].split(",")
    fields[4] = "00:00:01"
    lines[9] = ",".join(fields)
    path = tmp_path / "back.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReaderError, match="backwards") as err:
        NEWARE_CSV_READER.read(path)
    assert err.value.line == 10


def test_csv_header_only(shared_data, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("\n".join(csv_lines(shared_data, 3)) + "\n")
    with pytest.raises(ReaderError, match="no record rows"):
        NEWARE_CSV_READER.read(path)


def test_csv_in_utf16_reads_the_same(shared_data, tmp_path, results):
    path = tmp_path / "utf16.csv"
    path.write_bytes((shared_data / CSV).read_text().encode("utf-16"))  # with BOM
    assert NEWARE_CSV_READER.sniff(head_of(path), str(path)) >= 0.9
    assert NEWARE_CSV_READER.read(path).table.equals(results[CSV].table)
