"""The kind of measurement a file holds (analysis.core.measurement), on the real files and on
made ones, and the impedance spectrum read from it."""
import math

import numpy as np
import pytest

from analysis.core import synthetic
from analysis.core.measurement import impedance_spectrum, measurement_kind
from analysis.core.readers import canonical_table
from analysis.core.readers.registry import read_cycler_file

KINDS = {
    "biologic_mpr/gcpl.issue_211.mpr": ("cycling", "technique"),
    "biologic_mpt/gcpl.issue_149.mpt": ("cycling", "technique"),
    "biologic_mpr/peis.mpr": ("impedance", "columns"),
    "biologic_mpt/peis.mpt": ("impedance", "columns"),
    "maccor_txt/maccor_test_file_4267-66-6519.041": ("impedance", "states"),
    "maccor_txt/PredictionDiagnostics_000109_tztest.010": ("cycling", "signal"),
    "neware_nda/TestFile.nda": ("cycling", "signal"),
    "arbin_res/arbin_example.res": ("cycling", "signal"),
    # 5 minutes of rest and the first second of a charge: a cycling test that has just begun
    "arbin_csv/sample_data_arbin.csv": ("cycling", "signal"),
    "generic_csv/SINTEF__LiGrR2032__2024-04-30__25degC__Landt.bdf.csv": ("cycling", "signal"),
}


@pytest.mark.parametrize("relative", list(KINDS), ids=lambda r: r.split("/")[1])
def test_the_real_files_are_recognised(shared_data, relative):
    result = read_cycler_file(shared_data / relative)
    kind = measurement_kind(result.table, result.metadata)
    assert (kind.kind, kind.source) == KINDS[relative], kind.reason


def test_technique_header_names_the_kind():
    table = canonical_table({"test_time_s": [0.0, 1.0, 2.0], "current_ma": [0.1, -0.1, 0.1],
                             "voltage_v": [3.0, 3.1, 3.0]})
    for technique, kind in (("CV", "voltammetry"), ("OCV", "open_circuit"),
                            ("Cyclic Voltammetry", "voltammetry"), ("GEIS", "impedance"),
                            ("GITT", "pulse"), ("GCPL", "cycling"), ("MB", "cycling")):
        found = measurement_kind(table, {"technique": technique})
        assert (found.kind, found.source) == (kind, "technique"), technique
        assert technique in found.reason


def test_a_resting_cell_is_open_circuit():
    table = canonical_table({"test_time_s": np.arange(100.0) * 60,
                             "current_ma": np.zeros(100), "voltage_v": np.full(100, 3.3)})
    found = measurement_kind(table)
    assert found.kind == "open_circuit" and "rests" in found.reason


def test_short_pulses_between_long_rests_are_a_pulse_file():
    time_s = np.arange(0.0, 3600.0, 1.0)
    current = np.zeros(time_s.size)
    for start in (600, 1800, 3000):
        current[start:start + 10] = 5.0 if start != 1800 else -5.0
    table = canonical_table({"test_time_s": time_s, "current_ma": current,
                             "voltage_v": 3.0 + 0.01 * current})
    found = measurement_kind(table)
    assert found.kind == "pulse", found.reason
    assert "3 bursts" in found.reason


def test_a_synthetic_cycling_cell_is_cycling():
    data = synthetic.paper_sn_half_cell()
    assert measurement_kind(data.table).kind == "cycling"


def test_the_peis_spectrum_is_read_per_sweep(shared_data):
    result = read_cycler_file(shared_data / "biologic_mpr/peis.mpr")
    (sweep,) = impedance_spectrum(result.metadata)
    assert sweep["sweep"] == 1 and sweep["n_points"] == 32
    assert sweep["freq_hz"][0] == pytest.approx(199998.14, rel=1e-6)
    assert sweep["freq_hz"][-1] < 2.0
    # |Z| and the phase agree with Re Z and −Im Z
    for re_z, minus_im, abs_z, phase in zip(sweep["re_z_ohm"], sweep["minus_im_z_ohm"],
                                            sweep["abs_z_ohm"], sweep["phase_z_deg"]):
        assert abs_z == pytest.approx(math.hypot(re_z, minus_im), rel=1e-5)
        assert phase == pytest.approx(math.degrees(math.atan2(-minus_im, re_z)), abs=1e-3)
    text = impedance_spectrum(read_cycler_file(shared_data / "biologic_mpt/peis.mpt").metadata)
    assert text[0]["re_z_ohm"] == pytest.approx(sweep["re_z_ohm"], rel=1e-6)


def test_sweeps_without_a_cycle_number_split_where_the_frequency_starts_over():
    metadata = {"impedance": {"freq_hz": [1e5, 1e3, 10.0, 1e5, 1e3, 10.0],
                              "re_z_ohm": [1.0, 2.0, 5.0, 1.1, 2.2, 5.5],
                              "minus_im_z_ohm": [0.1, 1.0, 3.0, 0.1, 1.0, 3.0]}}
    sweeps = impedance_spectrum(metadata)
    assert [(s["sweep"], s["n_points"]) for s in sweeps] == [(1, 3), (2, 3)]
    assert sweeps[1]["abs_z_ohm"][2] == pytest.approx(math.hypot(5.5, 3.0))
    assert impedance_spectrum({}) == []
