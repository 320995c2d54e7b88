"""A full cell's fade predicted from its two half cells' coulombic efficiencies and its N/P
ratio, and the prediction set against the fade the full cell measured.

Sodium-inventory bookkeeping, in units of the positive's reversible capacity (= 1):

* the negative's reversible capacity is N/P (the N/P ratio on the half cells' reversible
  capacities, as the lab balances its cells);
* each electrode loses per cycle, per unit of its reversible capacity, what it loses in its
  half cell: the half cell's irreversible capacity Q_in − Q_out = Q_out·(1/CE − 1), CE the half
  cell's out ÷ in (NaCrO2: discharge ÷ charge; Sn: desodiation ÷ sodiation). So in cycle n
  the negative takes ℓ₋ = (1/CE₋,n − 1)·N/P of sodium out of the inventory, and the positive
  gives back ℓ₊ = 1/CE₊,n − 1 (charge it passed on charge beyond its own sodium: sodium it
  did not hand over, which stays in the inventory);
* the inventory starts at N₀ = 1 (all sodium in the positive, the negative empty) and
  N_n = min(N_{n−1} − ℓ₋,n + ℓ₊,n, 1): it cannot exceed what the positive takes back;
* the discharge capacity of cycle n is min(N_n, N/P) (the negative holds at most N/P), and the
  predicted retention is that ÷ the reference cycle's.

The assumption is that an electrode's irreversible loss is a property of the electrode (its
surface, its volume change), so the oversized negative of a balanced cell loses N/P times what
a negative of the positive's size would; what the prediction leaves unexplained is what the
half cells do not show (e.g. a negative that degrades faster in the full cell).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from .three_electrode import arrow_table, as_float_array, json_safe

VERSION = "1.0.0"

PREDICTION_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "cycle_number": (pa.int64(), "cycle number (the half cells' cycle of the same number)"),
    "positive_coulombic_efficiency": (pa.float64(), "NaCrO2 half cell: discharge ÷ charge"),
    "negative_coulombic_efficiency": (pa.float64(), "Sn half cell: desodiation ÷ sodiation"),
    "negative_loss": (pa.float64(), "ℓ₋ = (1/CE₋ − 1)·N/P: sodium the negative takes out of "
                                    "the inventory, in positive capacities"),
    "positive_return": (pa.float64(), "ℓ₊ = 1/CE₊ − 1: sodium the positive leaves in the "
                                      "inventory, in positive capacities"),
    "net_sodium_loss": (pa.float64(), "ℓ₋ − ℓ₊ in this cycle"),
    "sodium_inventory": (pa.float64(), "N after this cycle, in positive capacities"),
    "predicted_capacity": (pa.float64(), "min(N, N/P): discharge capacity, in positive capacities"),
    "predicted_retention": (pa.float64(), "predicted capacity ÷ that of the reference cycle"),
}


@dataclasses.dataclass(frozen=True)
class FadePrediction:
    table: pa.Table
    np_ratio: float
    reference_cycle: int
    params: dict

    def retention(self, reference_cycle: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(cycle numbers, predicted retention against ``reference_cycle``)."""
        cycles = self.table.column("cycle_number").to_numpy()
        capacity = self.table.column("predicted_capacity").to_numpy()
        ref = self.reference_cycle if reference_cycle is None else reference_cycle
        hits = np.flatnonzero(cycles == ref)
        if not hits.size:
            raise ValueError(f"reference_cycle {ref} is not among the predicted cycles "
                             f"({int(cycles[0])}–{int(cycles[-1])})")
        return cycles, capacity / capacity[hits[0]]


def _efficiencies(values: Any, name: str) -> np.ndarray:
    array = as_float_array(values, name)
    bad = ~np.isfinite(array) | (array <= 0) | (array > 1.5)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{k}] = {float(array[k]):g} is not a coulombic efficiency (a fraction, "
                         f"e.g. 0.985)")
    return array


def predict_full_cell_fade(positive_coulombic_efficiency: Sequence[float],
                           negative_coulombic_efficiency: Sequence[float], np_ratio: float, *,
                           cycle_numbers: Sequence[int] | None = None,
                           reference_cycle: int | None = None) -> FadePrediction:
    """The predicted fade (see the module docstring). The efficiencies are fractions, one per
    cycle, in cycle order (cycle 1 first unless ``cycle_numbers`` says otherwise); the two
    sequences are used up to the shorter one. ``reference_cycle`` defaults to the first."""
    ce_p = _efficiencies(positive_coulombic_efficiency, "positive_coulombic_efficiency")
    ce_n = _efficiencies(negative_coulombic_efficiency, "negative_coulombic_efficiency")
    if not (isinstance(np_ratio, (int, float)) and math.isfinite(np_ratio) and np_ratio > 0):
        raise ValueError(f"np_ratio must be a positive number, not {np_ratio!r}")
    n = min(ce_p.size, ce_n.size)
    if n == 0:
        raise ValueError("no cycle with both half cells' coulombic efficiencies")
    cycles = (np.arange(1, n + 1) if cycle_numbers is None
              else np.asarray(cycle_numbers, dtype=np.int64))
    if cycles.size < n:
        raise ValueError(f"cycle_numbers has {cycles.size} entries for {n} cycles")
    cycles = cycles[:n]
    ce_p, ce_n = ce_p[:n], ce_n[:n]
    negative_loss = (1.0 / ce_n - 1.0) * np_ratio
    positive_return = 1.0 / ce_p - 1.0
    inventory = np.empty(n)
    level = 1.0
    for k in range(n):
        level = min(level - negative_loss[k] + positive_return[k], 1.0)
        inventory[k] = level
    capacity = np.clip(np.minimum(inventory, np_ratio), 0.0, None)
    ref = int(cycles[0]) if reference_cycle is None else int(reference_cycle)
    hits = np.flatnonzero(cycles == ref)
    if not hits.size:
        raise ValueError(f"reference_cycle {ref} is not among the cycles ({int(cycles[0])}–"
                         f"{int(cycles[-1])})")
    retention = capacity / capacity[hits[0]] if capacity[hits[0]] > 0 else np.full(n, math.nan)
    params = {"np_ratio": float(np_ratio), "reference_cycle": ref, "cycles_used": int(n),
              "positive_cycles_given": int(ce_p.size), "negative_cycles_given": int(ce_n.size)}
    table = arrow_table({
        "cycle_number": cycles, "positive_coulombic_efficiency": ce_p,
        "negative_coulombic_efficiency": ce_n, "negative_loss": negative_loss,
        "positive_return": positive_return, "net_sodium_loss": negative_loss - positive_return,
        "sodium_inventory": inventory, "predicted_capacity": capacity,
        "predicted_retention": retention,
    }, PREDICTION_COLUMNS, {"method": "predict_full_cell_fade", "version": VERSION,
                            "params": params})
    return FadePrediction(table, float(np_ratio), ref, params)


COMPARISON_COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "cycle_number": (pa.int64(), "cycle number"),
    "predicted_retention": (pa.float64(), "predicted from the half cells (fraction)"),
    "measured_retention": (pa.float64(), "measured in the full cell (fraction)"),
    "difference": (pa.float64(), "measured − predicted (fraction; negative: faster fade than "
                                 "predicted)"),
}


@dataclasses.dataclass(frozen=True)
class FadeComparison:
    """Per cycle the predicted and measured retention; at the last common cycle the two
    numbers, their difference in percentage points, the share of the measured loss the half
    cells account for, and a sentence."""

    table: pa.Table
    cycle: int
    predicted_retention: float
    measured_retention: float
    difference_pp: float
    explained_fraction: float
    sentence: str
    params: dict

    def to_dict(self) -> dict:
        return json_safe({k: getattr(self, k) for k in (
            "cycle", "predicted_retention", "measured_retention", "difference_pp",
            "explained_fraction", "sentence", "params")})


def compare_fade(prediction: FadePrediction, cycle_numbers: Sequence[int],
                 measured_retention: Sequence[float], *, reference_cycle: int) -> FadeComparison:
    """Set the prediction against the full cell's measured retention (fractions, one per cycle
    in ``cycle_numbers``, against ``reference_cycle``; the prediction is re-referenced to the
    same cycle). The summary is at the last cycle both have."""
    measured_cycles = np.asarray(cycle_numbers, dtype=np.int64)
    measured = as_float_array(measured_retention, "measured_retention")
    if measured.size != measured_cycles.size:
        raise ValueError(f"measured_retention has {measured.size} values for "
                         f"{measured_cycles.size} cycle numbers")
    cycles, predicted = prediction.retention(reference_cycle)
    common, pi, mi = np.intersect1d(cycles, measured_cycles, return_indices=True)
    ok = np.isfinite(measured[mi]) & np.isfinite(predicted[pi])
    if not ok.any():
        raise ValueError("the prediction and the measurement have no cycle in common")
    table = arrow_table({"cycle_number": common, "predicted_retention": predicted[pi],
                         "measured_retention": measured[mi],
                         "difference": measured[mi] - predicted[pi]},
                        COMPARISON_COLUMNS, {"method": "compare_fade", "version": VERSION,
                                             "params": {"reference_cycle": reference_cycle,
                                                        **prediction.params}})
    last = int(np.flatnonzero(ok)[-1])
    cycle = int(common[last])
    p, m = float(predicted[pi][last]), float(measured[mi][last])
    difference_pp = 100.0 * (m - p)
    explained = (1.0 - p) / (1.0 - m) if m < 1.0 else math.nan
    if abs(difference_pp) < 1.0:
        verdict = "the half cells' sodium bookkeeping accounts for the fade"
    elif difference_pp < 0:
        verdict = (f"the full cell faded {abs(difference_pp):.1f} points more than its half cells "
                   f"predict (they account for {100 * explained:.0f} % of its loss)")
    else:
        verdict = (f"the full cell faded {difference_pp:.1f} points less than its half cells "
                   f"predict")
    sentence = (f"At cycle {cycle}, against cycle {reference_cycle}, the half cells' coulombic "
                f"efficiencies and N/P {prediction.np_ratio:.2f} predict {100 * p:.1f} % retention "
                f"and the full cell kept {100 * m:.1f} %: {verdict}.")
    return FadeComparison(table, cycle, p, m, difference_pp, explained, sentence,
                          {"reference_cycle": reference_cycle, **prediction.params})
