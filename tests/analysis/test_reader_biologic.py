"""BioLogic .mpr / .mpt readers against the shared EC-Lab files (SOURCES.md files 1-5).

The files are read in place from ../shared/data; modified copies for the error cases are written
to tmp_path only.
"""
import random
import struct
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analysis.core.readers import CANONICAL_COLUMNS, REQUIRED_COLUMNS, ReaderError
from analysis.core.readers.biologic import MPR_MAGIC, MPR_READER, MPT_READER, READERS

GCPL_MPR = "biologic_mpr/gcpl.issue_211.mpr"
GCPL_MPT = "biologic_mpt/gcpl.issue_211.mpt"
PEIS_MPR = "biologic_mpr/peis.mpr"
PEIS_MPT = "biologic_mpt/peis.mpt"
COMMA_MPT = "biologic_mpt/gcpl.issue_149.mpt"

# A three-electrode GCPL: EC-Lab's energies are the working electrode's (and, in the text
# export, the counter electrode's); the cell's energy counters are not in the files.
GCPL_MPR_COLUMNS = ["test_time_s", "current_ma", "voltage_v", "step_index", "cycle_index", "ewe_v",
                    "ece_v", "charge_capacity_mah", "discharge_capacity_mah",
                    "ewe_charge_energy_mwh", "ewe_discharge_energy_mwh"]
ALL_GCPL = GCPL_MPR_COLUMNS + ["ece_charge_energy_mwh", "ece_discharge_energy_mwh"]
PEIS_COLUMNS = ["test_time_s", "current_ma", "voltage_v", "cycle_index", "ewe_v", "ece_v"]
# two-electrode: Ewe is the cell voltage and EC-Lab's energies are the cell's
COMMA_COLUMNS = ["test_time_s", "current_ma", "voltage_v", "step_index", "cycle_index", "ewe_v",
                 "charge_capacity_mah", "discharge_capacity_mah", "charge_energy_mwh",
                 "discharge_energy_mwh"]

FILES = [
    # (file, reader, rows, canonical columns)
    (GCPL_MPR, MPR_READER, 2767, GCPL_MPR_COLUMNS),
    (GCPL_MPT, MPT_READER, 2767, ALL_GCPL),
    (PEIS_MPR, MPR_READER, 32, PEIS_COLUMNS),
    (PEIS_MPT, MPT_READER, 32, PEIS_COLUMNS),
    (COMMA_MPT, MPT_READER, 132, COMMA_COLUMNS),
]

_CACHE = {}


def read(shared_data, name):
    if name not in _CACHE:
        reader = MPR_READER if name.endswith(".mpr") else MPT_READER
        _CACHE[name] = reader.read(shared_data / name)
    return _CACHE[name]


def raw_mpt(shared_data, name, header_lines):
    """EC-Lab's own columns of an .mpt, read independently of the reader (for cross-checks)."""
    return pd.read_csv(shared_data / name, sep="\t", skiprows=header_lines - 1, encoding="latin-1",
                       decimal="," if name == COMMA_MPT else ".")


def col(result, name):
    return result.table.column(name).to_numpy(zero_copy_only=False)


def mpt_lines(shared_data, name=GCPL_MPT):
    return (shared_data / name).read_bytes().split(b"\n")


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- reader objects -----------------------------------------------------------------------------


def test_reader_objects():
    assert READERS == [MPR_READER, MPT_READER]
    assert (MPR_READER.name, MPT_READER.name) == ("biologic-mpr", "biologic-mpt")
    assert MPR_READER.version == "1.0" and MPT_READER.version == "1.0"


@pytest.mark.parametrize("name,reader", [(f, r) for f, r, _, _ in FILES])
def test_sniff_by_content(shared_data, name, reader):
    head = (shared_data / name).read_bytes()[:4096]
    other = MPT_READER if reader is MPR_READER else MPR_READER
    assert reader.sniff(head, name) == 1.0
    assert reader.sniff(head, "renamed.txt") == 1.0  # content decides, not the name
    assert other.sniff(head, name) == 0.0


def test_sniff_refuses_other_content():
    for reader in READERS:
        assert reader.sniff(b"Today's Date 01/02/2020\tRec#\tCyc#\n", "x.mpr") == 0.0
        assert reader.sniff(b"", "x.mpt") == 0.0


# --- every file reads -------------------------------------------------------------------------


@pytest.mark.parametrize("name,reader,rows,columns", FILES)
def test_every_shared_file_reads(shared_data, name, reader, rows, columns):
    result = read(shared_data, name)
    assert result.reader_name == reader.name and result.reader_version == reader.version
    assert result.table.num_rows == rows
    assert result.table.column_names == columns
    for column in result.table.column_names:
        assert result.table.schema.field(column).type == CANONICAL_COLUMNS[column][0]
    for column in REQUIRED_COLUMNS:
        assert result.table.column(column).null_count == 0
        assert np.isfinite(col(result, column)).all()
    assert (np.diff(col(result, "test_time_s")) > 0).all()


# --- .mpr against its .mpt export -------------------------------------------------------------


@pytest.mark.parametrize("mpr,mpt", [(GCPL_MPR, GCPL_MPT), (PEIS_MPR, PEIS_MPT)])
def test_mpr_and_mpt_of_one_run_agree(shared_data, mpr, mpt):
    binary, text = read(shared_data, mpr), read(shared_data, mpt)
    # the text export adds derived columns (here the counter electrode's energies)
    assert set(binary.table.column_names) <= set(text.table.column_names)
    for name in binary.table.column_names:
        a, b = col(binary, name), col(text, name)
        if pa.types.is_integer(binary.table.schema.field(name).type):
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            # float32 in the .mpr vs 8 significant digits in the text: ~1e-8 relative.
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=name)


def _segments(result):
    """Runs of constant (cycle_index, step_index): EC-Lab's half cycles in a GCPL run."""
    keys = list(zip(col(result, "cycle_index").tolist(), col(result, "step_index").tolist()))
    runs = [keys[0]]
    for key in keys[1:]:
        if key != runs[-1]:
            runs.append(key)
    return runs


def test_gcpl_cycle_structure_is_the_same_in_mpr_and_mpt(shared_data):
    expected = [(c, s) for c in range(5) for s in (1, 2)]  # 5 cycles: charge (Ns 1), discharge (Ns 2)
    assert _segments(read(shared_data, GCPL_MPR)) == expected
    assert _segments(read(shared_data, GCPL_MPT)) == expected


def test_mpr_cycle_index_from_half_cycle_equals_mpt_cycle_number(shared_data):
    raw = raw_mpt(shared_data, GCPL_MPT, 80)
    assert read(shared_data, GCPL_MPR).metadata["cycle_source"] == "half cycle // 2"
    np.testing.assert_array_equal(col(read(shared_data, GCPL_MPR), "cycle_index"),
                                  raw["cycle number"].to_numpy().astype(int))
    np.testing.assert_array_equal(raw["half cycle"].to_numpy() // 2, raw["cycle number"].to_numpy())


def test_mpr_current_is_derived_from_dq_and_equals_ec_lab_average_current(shared_data):
    binary = read(shared_data, GCPL_MPR)
    assert "I/mA" not in binary.metadata["source_columns"]
    assert binary.metadata["current_source"].startswith("dq/mA.h")
    raw = raw_mpt(shared_data, GCPL_MPT, 80)
    np.testing.assert_allclose(col(binary, "current_ma"), raw["<I>/mA"].to_numpy(), rtol=1e-12, atol=1e-15)
    # ... and not the set point (control/mA is exactly ±0.068 mA, the measured current is not).
    assert not np.allclose(col(binary, "current_ma")[1:], raw["control/mA"].to_numpy()[1:], rtol=1e-6)


# --- sign, capacity and energy conventions -----------------------------------------------------


@pytest.mark.parametrize("name", [GCPL_MPR, GCPL_MPT])
def test_current_sign_positive_on_oxidation_is_charge(shared_data, name):
    result = read(shared_data, name)
    step, current = col(result, "step_index"), col(result, "current_ma")
    ewe, charge = col(result, "ewe_v"), col(result, "charge_capacity_mah")
    assert (current[step == 1] >= 0).all() and (current[step == 2] < 0).all()
    # Away from the step changes (where <I> averages over the switch) |I| is the 0.068 mA set.
    steady = np.r_[False, step[1:] == step[:-1]]
    assert (current[steady & (step == 1)] > 0.06).all()    # Ns 1: I sign > 0 (oxidation of the WE)
    assert (current[steady & (step == 2)] < -0.06).all()   # Ns 2: I sign < 0
    first_charge = np.flatnonzero(step == 1)[:200]
    assert ewe[first_charge[-1]] > ewe[first_charge[0]]   # oxidation drives Ewe up
    assert np.all(np.diff(charge[first_charge]) >= 0) and charge[first_charge[-1]] > 0.05


@pytest.mark.parametrize("name", [GCPL_MPR, GCPL_MPT])
def test_half_cycle_capacity_matches_integral_of_current(shared_data, name):
    result = read(shared_data, name)
    t, current = col(result, "test_time_s"), col(result, "current_ma")
    charge, discharge = col(result, "charge_capacity_mah"), col(result, "discharge_capacity_mah")
    keys = col(result, "cycle_index") * 10 + col(result, "step_index")
    checked = 0
    for key in np.unique(keys):
        rows = keys == key
        counted = max(charge[rows][-1], discharge[rows][-1])   # EC-Lab's Q at the half cycle's end
        integral = np.trapezoid(np.abs(current[rows]), t[rows]) / 3600.0
        assert counted > 0.05
        assert integral == pytest.approx(counted, rel=1e-3), f"half cycle {key}"
        checked += 1
    assert checked == 10


def test_capacity_counters_are_ec_lab_q_charge_and_q_discharge(shared_data):
    result, raw = read(shared_data, GCPL_MPT), raw_mpt(shared_data, GCPL_MPT, 80)
    q = raw["Q charge/discharge/mA.h"].to_numpy()
    assert (q > 0).any() and (q < 0).any()
    np.testing.assert_allclose(col(result, "charge_capacity_mah"), raw["Q charge/mA.h"], atol=1e-12)
    np.testing.assert_allclose(col(result, "discharge_capacity_mah"), raw["Q discharge/mA.h"], atol=1e-12)
    # Each counter is zero while the other direction runs.
    assert (col(result, "charge_capacity_mah")[q < 0] == 0).all()
    assert (col(result, "discharge_capacity_mah")[q > 0] == 0).all()


def test_three_electrode_energies_keep_their_electrode_and_voltage_is_ewe_minus_ece(shared_data):
    """EC-Lab's ``Energy we charge`` is ∫|Ewe|·|I|dt, the working electrode's, not the cell's;
    it is kept under its own name, and the cell's counters (``Energy we-ce``, which this export
    never filled in) are absent, so the analysis integrates (Ewe - Ece)·|I|."""
    result, raw = read(shared_data, GCPL_MPT), raw_mpt(shared_data, GCPL_MPT, 80)
    np.testing.assert_allclose(col(result, "ewe_charge_energy_mwh"),
                               1000 * raw["Energy we charge/W.h"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(col(result, "ewe_discharge_energy_mwh"),
                               1000 * raw["Energy we discharge/W.h"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(col(result, "ece_charge_energy_mwh"),
                               1000 * raw["Energy ce charge/W.h"].to_numpy(), rtol=1e-12)
    assert "charge_energy_mwh" not in result.table.column_names
    assert result.metadata["ignored_columns"] == {
        "Energy we-ce charge/W.h": "zero throughout while current flows",
        "Energy we-ce discharge/W.h": "zero throughout while current flows"}
    # the working electrode's counter is ∫|Ewe|·|I|dt over the first charge
    first = (col(result, "cycle_index") == 0) & (col(result, "current_ma") > 0.01)
    t, i, ewe = col(result, "test_time_s"), col(result, "current_ma"), col(result, "ewe_v")
    dt = np.diff(t, prepend=t[0])
    assert np.sum(np.abs(ewe * i * dt)[first]) / 3600 == pytest.approx(
        col(result, "ewe_charge_energy_mwh")[first].max(), rel=1e-3)
    # the export's own cell voltage, which agrees with Ewe − Ece to EC-Lab's float32
    np.testing.assert_array_equal(col(result, "voltage_v"), raw["Ewe-Ece/V"].to_numpy())
    np.testing.assert_allclose(col(result, "voltage_v"), col(result, "ewe_v") - col(result, "ece_v"), atol=2e-7)
    assert not np.allclose(col(result, "voltage_v"), col(result, "ewe_v"), atol=1e-3)
    assert result.metadata["voltage_source"] == "Ewe-Ece/V"
    # the .mpr has no such column: there the cell voltage is the difference
    assert read(shared_data, GCPL_MPR).metadata["voltage_source"] == "Ewe/V - Ece/V"


def test_two_electrode_energies_are_the_cells(shared_data):
    result = read(shared_data, COMMA_MPT)
    assert result.metadata["energy_sources"] == {"charge_energy_mwh": "Energy charge/W.h",
                                                 "discharge_energy_mwh": "Energy discharge/W.h"}


# --- decimal comma --------------------------------------------------------------------------------


def test_decimal_comma_file_parses_into_the_right_floats(shared_data):
    result = read(shared_data, COMMA_MPT)
    assert result.metadata["decimal_separator"] == ","
    # Line 82 (first data row): time 3,015299923827115E+001, Ewe 3,4228721E+000;
    # line 83: Ewe 3,4219875E+000; line 93: time 4,015319898564485E+001, Ewe 3,4233973E+000,
    # <I>/mA 2,954942528300747E-002, Q charge/discharge 3,283269392947356E-009 mA.h, Ns 1.
    t, v, i = col(result, "test_time_s"), col(result, "voltage_v"), col(result, "current_ma")
    assert t[0] == pytest.approx(30.15299923827115, rel=1e-15)
    assert v[0] == pytest.approx(3.4228721, rel=1e-12)
    assert v[1] == pytest.approx(3.4219875, rel=1e-12)
    assert t[11] == pytest.approx(40.15319898564485, rel=1e-15)
    assert v[11] == pytest.approx(3.4233973, rel=1e-12)
    assert i[11] == pytest.approx(0.02954942528300747, rel=1e-12)
    assert col(result, "charge_capacity_mah")[11] == pytest.approx(3.283269392947356e-9, rel=1e-12)
    assert col(result, "step_index")[11] == 1
    assert sorted(set(col(result, "cycle_index").tolist())) == [0, 1, 2, 3]
    assert result.metadata["loops"] == [[0, 32], [33, 65], [66, 98], [99, 131]]
    assert result.metadata["acquisition_start"] == "2024-01-10T11:02:29.886000"


# --- metadata -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [GCPL_MPR, GCPL_MPT])
def test_gcpl_metadata(shared_data, name):
    meta = read(shared_data, name).metadata
    assert meta["technique"] == "GCPL"
    assert meta["technique_name"] == "Galvanostatic Cycling with Potential Limitation"
    assert meta["active_mass_mg"] == pytest.approx(0.79)
    assert meta["acquisition_start"] == "2025-05-28T14:23:16.145000"
    assert meta["electrode_material"] == "P(C3-FcMAm-co-EDMA) 1"
    assert meta["electrolyte"] == "2M NaClO4 in water"
    assert meta["comments"] == ("Swaglock t-cell SS (stefano)\nWE:SW-E5-3\nCE: ACE (SW-E9)\n"
                                "Ref: Ag wire (unknown)")
    assert meta["software_version"] == "11.61"


def test_mpt_header_metadata(shared_data):
    meta = read(shared_data, GCPL_MPT).metadata
    assert meta["device"] == "VMP3 (SN 0858)"
    assert meta["software"] == "EC-Lab"
    assert meta["battery_capacity_mah"] == pytest.approx(0.068)
    assert meta["nb_header_lines"] == 80 and meta["encoding"] == "latin-1"
    assert meta["header"]["Saved on/Host"] == "10.232.56.37"
    assert meta["technique_parameters"]["unit Is"] == ["mA", "µA", "µA"]
    assert "Capacitance charge/µF" in meta["source_columns"]


@pytest.mark.parametrize("name", [PEIS_MPR, PEIS_MPT])
def test_eis_file_reads_with_spectrum_in_metadata(shared_data, name):
    result = read(shared_data, name)
    meta = result.metadata
    assert meta["technique"] == "PEIS"
    assert meta["acquisition_start"] == "2021-03-02T16:17:59"
    assert meta["current_source"] == "<I>/mA"
    spectrum = meta["impedance"]
    assert len(spectrum["freq_hz"]) == 32
    assert spectrum["freq_hz"][0] == pytest.approx(1.9999814e5, rel=1e-7)
    assert spectrum["re_z_ohm"][0] == pytest.approx(10.512296, rel=1e-6)
    assert spectrum["minus_im_z_ohm"][0] == pytest.approx(0.73047662, rel=1e-6)
    assert col(result, "current_ma")[0] == pytest.approx(-109.88599, rel=1e-6)
    assert col(result, "ewe_v")[0] == pytest.approx(-3.5914290, rel=1e-6)


# --- bad inputs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("reader,name", [(MPR_READER, "empty.mpr"), (MPT_READER, "empty.mpt")])
def test_empty_file(tmp_path, reader, name):
    with pytest.raises(ReaderError, match="empty") as info:
        reader.read(write(tmp_path, name, b""))
    assert info.value.file == name


def test_truncated_mpr(shared_data, tmp_path):
    data = (shared_data / GCPL_MPR).read_bytes()
    with pytest.raises(ReaderError, match=r"truncated file: module 'VMP Set'.* declares 6953 bytes"):
        MPR_READER.read(write(tmp_path, "head.mpr", data[:1000]))
    with pytest.raises(ReaderError, match=r"truncated file: module 'VMP data'"):
        MPR_READER.read(write(tmp_path, "half.mpr", data[:100_000]))


def test_random_bytes_after_the_mpr_magic(tmp_path):
    rng = random.Random(211)
    noise = bytes(rng.getrandbits(8) for _ in range(4000))
    with pytest.raises(ReaderError, match="no module found"):
        MPR_READER.read(write(tmp_path, "noise.mpr", MPR_MAGIC + noise))
    # A plausible first module header followed by noise: the declared length does not fit.
    fake = MPR_MAGIC.ljust(0x34, b" ") + b"MODULE" + b"VMP data  " + b"VMP data".ljust(25)
    fake += struct.pack("<II", 10**8, 2) + b"01/01/24" + noise
    with pytest.raises(ReaderError, match="truncated"):
        MPR_READER.read(write(tmp_path, "fake.mpr", fake))


def test_mpr_reader_refuses_other_content(shared_data, tmp_path):
    with pytest.raises(ReaderError, match="BIO-LOGIC MODULAR FILE"):
        MPR_READER.read(shared_data / GCPL_MPT)


def test_unknown_mpr_column_id_is_named(shared_data, tmp_path):
    data = bytearray((shared_data / GCPL_MPR).read_bytes())
    ids_at = 7135 + 6   # data module body + 4 B point count + 2 B column count (new-style header)
    assert struct.unpack_from("<H", data, ids_at + 2 * 6)[0] == 131   # Ns
    struct.pack_into("<H", data, ids_at + 2 * 6, 999)
    with pytest.raises(ReaderError, match=r"unknown column ID 999 \(column 7 of 18") as info:
        MPR_READER.read(write(tmp_path, "unknown.mpr", bytes(data)))
    assert info.value.column == "ID 999"


def test_mpr_column_sizes_must_fill_the_data_module(shared_data, tmp_path):
    data = bytearray((shared_data / GCPL_MPR).read_bytes())
    ids_at = 7135 + 6
    assert struct.unpack_from("<H", data, ids_at + 2 * 9)[0] == 13    # (Q-Qo)/mA.h, 8 bytes
    struct.pack_into("<H", data, ids_at + 2 * 9, 19)                   # control/V, 4 bytes
    with pytest.raises(ReaderError, match=r"size mismatch: 2767 points x 65 bytes"):
        MPR_READER.read(write(tmp_path, "resized.mpr", bytes(data)))


def test_damaged_mpr_only_ever_raises_reader_error(shared_data, tmp_path):
    rng = random.Random(7)
    for name in (GCPL_MPR, PEIS_MPR):
        data = (shared_data / name).read_bytes()
        cuts = list(range(0, 8000, 97)) + rng.sample(range(8000, len(data)), 40)
        for cut in cuts:
            with pytest.raises(ReaderError):
                MPR_READER.read(write(tmp_path, "cut.mpr", data[:cut]))
        for _ in range(100):   # flipped bytes in the module headers and the column list
            damaged = bytearray(data)
            for _ in range(4):
                damaged[rng.randrange(0x34, 12000)] = rng.getrandbits(8)
            try:
                MPR_READER.read(write(tmp_path, "flip.mpr", bytes(damaged)))
            except ReaderError:
                pass


def test_mpt_header_longer_than_the_file(shared_data, tmp_path):
    lines = mpt_lines(shared_data)
    with pytest.raises(ReaderError, match="announces 80 header lines but the file ends after 5") as info:
        MPT_READER.read(write(tmp_path, "short.mpt", b"\n".join(lines[:5]) + b"\n"))
    assert info.value.line == 5


def test_mpt_non_numeric_value_names_line_and_column(shared_data, tmp_path):
    lines = mpt_lines(shared_data)
    fields = lines[84].split(b"\t")          # line 85 of the file, the 5th data row
    fields[11] = b"abc"                       # Ewe/V
    lines[84] = b"\t".join(fields)
    with pytest.raises(ReaderError, match=r"line 85, column 'Ewe/V': not a number: 'abc'") as info:
        MPT_READER.read(write(tmp_path, "bad.mpt", b"\n".join(lines)))
    assert (info.value.line, info.value.column) == (85, "Ewe/V")


def test_mpt_non_numeric_value_in_decimal_comma_file(shared_data, tmp_path):
    lines = mpt_lines(shared_data, COMMA_MPT)
    fields = lines[99].split(b"\t")          # line 100
    fields[7] = b"12:30"                      # time/s
    lines[99] = b"\t".join(fields)
    with pytest.raises(ReaderError) as info:
        MPT_READER.read(write(tmp_path, "bad_comma.mpt", b"\n".join(lines)))
    assert (info.value.line, info.value.column) == (100, "time/s")


def test_mpt_short_row_names_the_line(shared_data, tmp_path):
    lines = mpt_lines(shared_data)
    lines[1000] = b"\t".join(lines[1000].split(b"\t")[:10])
    with pytest.raises(ReaderError, match="found 10") as info:
        MPT_READER.read(write(tmp_path, "short_row.mpt", b"\n".join(lines)))
    assert info.value.line == 1001


def test_mpt_other_bad_inputs(shared_data, tmp_path):
    with pytest.raises(ReaderError, match="not a BioLogic text export") as info:
        MPT_READER.read(write(tmp_path, "other.mpt", b"Date,Voltage\n1,2\n"))
    assert info.value.line == 1
    with pytest.raises(ReaderError, match="not a BioLogic text export"):
        MPT_READER.read(shared_data / GCPL_MPR)
    lines = mpt_lines(shared_data)
    with pytest.raises(ReaderError, match="no data rows"):
        MPT_READER.read(write(tmp_path, "no_rows.mpt", b"\n".join(lines[:80]) + b"\n"))
    with pytest.raises(ReaderError, match="Nb header lines") as info:
        MPT_READER.read(write(tmp_path, "no_count.mpt", b"EC-Lab ASCII FILE\nhello\n"))
    assert info.value.line == 2


# --- .mpt layout variants ---------------------------------------------------------------------


def _same_table(a, b):
    assert a.table.column_names == b.table.column_names
    for name in a.table.column_names:
        np.testing.assert_array_equal(col(a, name), col(b, name), err_msg=name)


def test_headerless_export(shared_data, tmp_path):
    lines = mpt_lines(shared_data)
    three = [b"EC-Lab ASCII FILE", b"Nb header lines : 3                          "] + lines[79:]
    result = MPT_READER.read(write(tmp_path, "three.mpt", b"\n".join(three)))
    _same_table(result, read(shared_data, GCPL_MPT))
    assert result.metadata["nb_header_lines"] == 3 and "technique" not in result.metadata
    bare = MPT_READER.read(write(tmp_path, "bare.mpt", b"\n".join(lines[79:])))
    _same_table(bare, read(shared_data, GCPL_MPT))
    assert MPT_READER.sniff(b"\n".join(lines[79:81]), "bare.txt") > 0.5


def test_crlf_and_trailing_tab_on_data_rows(shared_data, tmp_path):
    lines = [line for line in mpt_lines(shared_data, COMMA_MPT)]
    data = b"\r\n".join(lines[:81] + [line + b"\t" if line else line for line in lines[81:]])
    result = MPT_READER.read(write(tmp_path, "crlf.mpt", data))
    _same_table(result, read(shared_data, COMMA_MPT))


def test_bt_lab_ecell_and_instantaneous_current(tmp_path):
    text = ("BT-Lab ASCII FILE\nNb header lines : 5\n\nModulo Bat\n"
            "mode\ttime/s\tEcell/V\tI/mA\t<I>/mA\tNs\tcycle number\tTemperature/°C\t\n"
            "1\t0.5\t3.10\t1.5\t1.4\t0\t0\t25.0\n"
            "1\t1.5\t3.20\t1.5\t1.6\t1\t0\t25.5\n")
    result = MPT_READER.read(write(tmp_path, "bt.mpt", text.encode("cp1252")))
    assert result.table.column_names == ["test_time_s", "current_ma", "voltage_v", "step_index",
                                         "cycle_index", "temperature_c"]
    np.testing.assert_array_equal(col(result, "voltage_v"), [3.10, 3.20])
    np.testing.assert_array_equal(col(result, "current_ma"), [1.5, 1.5])   # I/mA before <I>/mA
    np.testing.assert_array_equal(col(result, "temperature_c"), [25.0, 25.5])
    assert result.metadata["technique"] == "MB"


@pytest.mark.parametrize("declared", [True, False])
def test_absolute_time_export(tmp_path, declared):
    flag = "Text export\n   Time format : Absolute MMDDYYYY\n" if declared else "Record Ece\n\n"
    text = ("EC-Lab ASCII FILE\nNb header lines : 8\n\nOpen Circuit Voltage\n"
            "Acquisition started on : 05/28/2025 14:23:16.145\n" + flag +
            "mode\ttime/s\tEwe/V\t<I>/mA\t\n"
            "3\t05/28/2025 14:23:17.145\t0.1\t0\n"
            "3\t05/28/2025 14:23:19.645\t0.2\t0\n")
    result = MPT_READER.read(write(tmp_path, "abs.mpt", text.encode()))
    np.testing.assert_allclose(col(result, "test_time_s"), [1.0, 3.5])
    assert result.table.column("timestamp").to_pylist()[1].isoformat() == "2025-05-28T14:23:19.645000"
    assert result.metadata["technique"] == "OCV"


@pytest.mark.slow
def test_large_export_streams(shared_data, tmp_path):
    lines = mpt_lines(shared_data, COMMA_MPT)
    header, rows = lines[:81], [line for line in lines[81:] if line]
    n = 200_000
    body = b"\n".join(rows * (n // len(rows)) + rows[: n % len(rows)])
    path = write(tmp_path, "big.mpt", b"\n".join(header) + b"\n" + body + b"\n")
    start = time.perf_counter()
    result = MPT_READER.read(path)
    elapsed = time.perf_counter() - start
    assert result.table.num_rows == n
    assert col(result, "voltage_v")[len(rows)] == pytest.approx(3.4228721)
    assert elapsed < 20, f"{elapsed:.1f} s for {n} rows"


# --- the .mpr column table ------------------------------------------------------------------------


def make_mpr(columns, n_points=3, flags=()):
    """A minimal .mpr: the signature and one old-style 'VMP data' module (version 2) whose
    columns are (ID, values) pairs, with optional flag IDs sharing one leading byte."""
    from analysis.core.readers.biologic.mpr import _MPR_COLUMNS

    ids = list(flags) + [col_id for col_id, _ in columns]
    fields = ([("flags", "u1")] if flags else []) + [
        (f"c{k}", _MPR_COLUMNS[col_id][1]) for k, (col_id, _) in enumerate(columns)]
    records = np.zeros(n_points, dtype=np.dtype(fields))
    for k, (_, values) in enumerate(columns):
        records[f"c{k}"] = values
    head = struct.pack("<IB", n_points, len(ids)) + struct.pack(f"<{len(ids)}H", *ids)
    body = head.ljust(0x195, b"\x00") + records.tobytes()
    module = (b"MODULE" + b"VMP data".ljust(10) + b"VMP data".ljust(25)
              + struct.pack("<II", len(body), 2) + b"01/01/24" + body)
    return MPR_MAGIC.ljust(0x34, b" ") + module


def test_every_column_id_of_the_table_reads(tmp_path):
    """One file holding every ID the table knows: each has the size the table says (the
    module's size is checked against it) and the name EC-Lab's export gives it."""
    from analysis.core.readers.biologic.mpr import _MPR_COLUMNS

    columns = [(col_id, np.arange(3) + 1) for col_id in sorted(_MPR_COLUMNS)]
    result = MPR_READER.read(write(tmp_path, "all.mpr", make_mpr(columns, flags=(1, 2, 3, 21, 31, 65))))
    names = result.metadata["source_columns"]
    assert len(names) == len(_MPR_COLUMNS) + 6  # the flags unpacked
    for expected in ("P/W", "|Energy|/W.h", "Capacitance charge/µF", "(Q-Qo)/mA.h", "control/V",
                     "control/mA", "control/V/mA", "Energy ce charge/W.h", "Phase(Zwe-ce)/deg",
                     "|Ece h7|/V", "Temperature/°C", "step time/s", "z cycle", "Cp-2/µF-2"):
        assert expected in names, expected


def test_an_mpr_with_energies_powers_and_control_values(tmp_path):
    time_s, current, ewe = [0.0, 10.0, 20.0], [1.0, 1.0, 1.0], [3.0, 3.1, 3.2]
    two_electrode = make_mpr([(4, time_s), (8, current), (6, ewe), (5, [1.0] * 3), (19, [3.3] * 3),
                              (20, [1.0] * 3), (13, [0.0, 0.0028, 0.0056]),
                              (123, [0.0, 8.5e-6, 1.7e-5]), (124, [0.0] * 3), (70, [0.003] * 3),
                              (74, [0.0, 8.5e-6, 1.7e-5]), (125, [0.0] * 3), (126, [0.0] * 3)])
    result = MPR_READER.read(write(tmp_path, "two.mpr", two_electrode))
    assert col(result, "charge_energy_mwh") == pytest.approx([0.0, 0.0085, 0.017])
    assert "ewe_charge_energy_mwh" not in result.table.column_names
    # with the counter electrode recorded, EC-Lab's energies keep their electrode
    three_electrode = make_mpr([(4, time_s), (8, current), (6, ewe), (9, [-0.1] * 3),
                                (123, [0.0, 8.5e-6, 1.7e-5]), (124, [0.0] * 3),
                                (115, [0.0, 3e-7, 6e-7]), (116, [0.0] * 3)])
    result = MPR_READER.read(write(tmp_path, "three.mpr", three_electrode))
    assert "charge_energy_mwh" not in result.table.column_names
    assert col(result, "ewe_charge_energy_mwh") == pytest.approx([0.0, 0.0085, 0.017])
    assert col(result, "ece_charge_energy_mwh") == pytest.approx([0.0, 0.0003, 0.0006])
    assert col(result, "voltage_v") == pytest.approx([3.1, 3.2, 3.3])
