"""A cell's history across datasets (analysis.core.history), the lab's definitions per kind
(analysis.core.definitions) and metrics that say when they rest on flagged cycles."""
import json

import numpy as np
import pytest

from analysis.core import metrics, synthetic
from analysis.core.cycling import analyse_cycling
from analysis.core.definitions import DEFINITIONS, for_kind, loading_reference
from analysis.core.history import join_history


def pct(value):
    return round(100 * value, 1)


def test_a_cell_cycled_in_two_runs_has_one_history_numbered_on():
    """The paper's long-term NaCrO2 cell split after cycle 40 (moved to another channel): the
    second file starts with cycle 41's charge (the cycler's counter at 0). One history, cycles
    1-102, and the retention across both equals that of the unsplit file."""
    data = synthetic.paper_nacro2_long_term(cycler_counters=True)
    kwargs = data.analysis_kwargs()
    whole = analyse_cycling(data.table, finished=True, **kwargs)
    split_row = int(whole.summary.column("end_row")[39].as_py()) + 1  # after cycle 40's rest
    first = analyse_cycling(data.table.slice(0, split_row), **kwargs).summary.to_pylist()
    second = analyse_cycling(data.table.slice(split_row), finished=True, **kwargs).summary.to_pylist()
    assert [r["cycle_number"] for r in second][:2] == [1, 2]
    history = join_history([("DS-0001", first), ("DS-0002", second)])
    numbers = [r["cycle_number"] for r in history.rows]
    assert numbers == list(range(1, 103))
    assert [r["dataset"] for r in history.rows].count("DS-0002") == 62
    assert history.feeds == [
        {"dataset": "DS-0001", "cycles": [1, 40], "history_cycles": [1, 40], "complete_cycles": 40},
        {"dataset": "DS-0002", "cycles": [1, 62], "history_cycles": [41, 102],
         "complete_cycles": 62}]
    joined = metrics.cell_metrics(history.numbered(), cell_kind="cathode_half")
    alone = metrics.cell_metrics(whole.summary, cell_kind="cathode_half")
    assert pct(joined["retention"].value) == pct(alone["retention"].value) == 95.6
    assert (joined["retention"].params["cycle"], joined["retention"].params["ref_cycle"]) == (102, 3)


def test_a_restart_mid_cycle_leaves_the_remainder_unnumbered():
    data = synthetic.paper_full_cell()
    kwargs = data.analysis_kwargs()
    steps = analyse_cycling(data.table, **kwargs).steps
    discharge_5 = np.flatnonzero(steps.direction < 0)[4]
    cut = int(steps.start_row[discharge_5] + 20)  # the test stopped during cycle 5's discharge
    first = analyse_cycling(data.table.slice(0, cut), **kwargs).summary.to_pylist()
    second = analyse_cycling(data.table.slice(cut), finished=True, **kwargs).summary.to_pylist()
    history = join_history([("A", first), ("B", second)])
    assert [(r["dataset"], r["dataset_cycle_number"], r["cycle_number"])
            for r in history.rows[3:7]] == [("A", 4, 4), ("A", 5, 5), ("B", 0, None), ("B", 1, 6)]
    assert [r["complete"] for r in history.rows[3:7]] == [True, False, False, True]
    assert len(history.numbered()) == len(history.rows) - 1


def test_the_lab_definitions_per_kind():
    assert set(DEFINITIONS) == {"cathode_half", "anode_half", "full", "three_electrode",
                                "liquid_reference"}
    sn = for_kind("anode_half")
    assert (sn.first_half_cycle, sn.basis, sn.basis_name, sn.other_name) == (
        "discharge", "discharge", "sodiation", "desodiation")
    assert for_kind("cathode_half").loading_reference == "material"
    for kind in ("anode_half", "full", "three_electrode", "liquid_reference"):
        assert for_kind(kind).loading_reference == "lab"
        assert loading_reference(kind, material_reference_mah_g=120.0).specific_capacity_mah_g \
            is None
    with pytest.raises(ValueError, match="kind must be one of"):
        for_kind("supercapacitor")


def test_metrics_from_flagged_cycles_say_so():
    data = synthetic.paper_nacro2_long_term(cycler_counters=True)
    table = data.table
    # cycle 3 (the reference of the retention) and cycle 102 counted 1 % more by the "cycler"
    summary = analyse_cycling(table, **data.analysis_kwargs()).summary
    rows = summary.to_pylist()
    for index in (2, 101):
        rows[index]["n_warnings"] = 1
        rows[index]["flags"] = json.dumps([{"code": "counter_integral_mismatch"}])
    result = metrics.cell_metrics(rows, cell_kind="cathode_half")
    assert result["retention"].warnings == [
        {"cycle": 3, "flags": ["counter_integral_mismatch"]},
        {"cycle": 102, "flags": ["counter_integral_mismatch"]}]
    assert result["retention"].details["warning"] == (
        "computed from flagged cycles: 3 (counter_integral_mismatch), "
        "102 (counter_integral_mismatch)")
    assert result["first_cycle_efficiency"].warnings == []
    assert result["rate_capability"].warnings != []  # every 0.5C cycle is in its mean
    # JSON-safe, warnings included
    json.dumps({name: r.to_dict() for name, r in result.items()}, allow_nan=False)
