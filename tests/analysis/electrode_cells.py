"""Three-electrode test cells for the tests of analysis.core.electrodes: synthetic runs written
as EC-Lab text exports and read back with the project's reader, their half cycles from the
cycling segmentation, and the half-cell reference curves."""
import pathlib

import numpy as np
import pyarrow.csv as pacsv

from analysis.core import synthetic_three_electrode as s3
from analysis.core.cycling import assign_cycles, detect_steps_in_table
from analysis.core.electrodes.dma import reference_from_half_cell
from analysis.core.electrodes.three_electrode import (half_cycles_from_cycling,
                                                      three_electrode_from_table)
from analysis.core.readers.registry import read_cycler_file


def half_cycles(table, first_half_cycle):
    steps = detect_steps_in_table(table)
    return half_cycles_from_cycling(steps, assign_cycles(steps, first_half_cycle))


def ec_lab_column(path, name):
    """One column of an EC-Lab text export by its name (the reader does not keep Ewe-Ece/V)."""
    with open(path, "rb") as handle:
        handle.readline()
        n_header = int(handle.readline().decode("latin-1").split(":")[1])
    with open(path, "rb") as handle:
        names_line = handle.read().split(b"\n")[n_header - 1]
    names = [n for n in names_line.decode("latin-1").rstrip("\r").split("\t") if n]
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(skip_rows=n_header, column_names=names),
                           parse_options=pacsv.ParseOptions(delimiter="\t"),
                           convert_options=pacsv.ConvertOptions(include_columns=[name]))
    return table.column(name).to_numpy()


def write(folder: pathlib.Path, name: str, content: bytes) -> pathlib.Path:
    path = folder / name
    path.write_bytes(content)
    return path


def read_run(path):
    """(ThreeElectrodeData, HalfCycles, ReadResult) of a three-electrode .mpt/.mpr."""
    result = read_cycler_file(path)
    return three_electrode_from_table(result.table), half_cycles(result.table, "charge"), result


def references(folder: pathlib.Path):
    """The NaCrO2 and Sn reference branches from synthetic half-cell exports (slowest cycle)."""
    out = {}
    for electrode, first in (("positive", "charge"), ("negative", "discharge")):
        half = s3.half_cell_reference(electrode)
        table = read_cycler_file(write(folder, f"{electrode}_half_cell.mpt", half.to_mpt())).table
        out[electrode] = reference_from_half_cell(table, half_cycles(table, first),
                                                  electrode=electrode)
    return out


def limiting_truth(share):
    """The electrode the model says ended a half cycle (None when too close to call)."""
    return None if abs(share - 0.5) < 0.1 else ("positive" if share > 0.5 else "negative")


def column(table, name):
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False))
