"""Comparing cells by the process variables they were made and cycled with.

Which recorded variable goes with the difference in a metric (retention at a cycle, rate
capability at a C-rate) across chosen cells: the cells are grouped by each variable's value,
and the variable is scored by the between-group share of the metric's variance,

    η² = SS_between ÷ SS_total = Σ_g n_g (m_g − m)² ÷ Σ_i (x_i − m)²,

with m_g the mean of group g, n_g its number of cells and m the mean of all cells. η² = 1: the
groups explain all of the difference; 0: none of it. It is only told when every group has at
least two cells (so a spread within groups exists to compare with) and there are at least two
groups; otherwise the ranking says why it cannot tell. Pure: lists and dicts in, dataclasses out.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

MIN_CELLS_PER_GROUP = 2
NOT_RECORDED = "not recorded"
LEADING_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)(?=\s|$)")


@dataclass(frozen=True)
class GroupStatistics:
    """One value of a variable: the cells that have it and the metric's mean and spread there."""

    value: str
    cells: tuple[str, ...]
    mean: float
    standard_deviation: float | None  # sample (n − 1); None for a single cell
    minimum: float
    maximum: float

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @property
    def range(self) -> float:
        return self.maximum - self.minimum


@dataclass(frozen=True)
class VariableScore:
    """A variable's groups and its score η² (None when it cannot be told, with the reason)."""

    variable: str
    groups: tuple[GroupStatistics, ...]
    eta_squared: float | None
    too_few: str  # "" when the score can be told, else why not, in words

    @property
    def told(self) -> bool:
        return not self.too_few


def _check_values(values_by_cell: Mapping[str, float]) -> dict[str, float]:
    values = {}
    for cell, value in values_by_cell.items():
        if value is None or not math.isfinite(float(value)):
            raise ValueError(f"values_by_cell: {cell} has no finite value ({value!r}); leave such cells out")
        values[cell] = float(value)
    return values


def group_statistics(values_by_cell: Mapping[str, float], group_by_cell: Mapping[str, str]) -> list[GroupStatistics]:
    """The metric's mean, sample standard deviation and range per group, groups sorted by
    their value (numbers in numeric order when every value reads as one)."""
    values = _check_values(values_by_cell)
    missing = [cell for cell in values if cell not in group_by_cell]
    if missing:
        raise ValueError(f"group_by_cell: no group for {', '.join(missing)}")
    members: dict[str, list[str]] = {}
    for cell in values:
        members.setdefault(group_by_cell[cell], []).append(cell)
    groups = []
    for value in sort_values(members):
        cells = tuple(members[value])
        xs = [values[c] for c in cells]
        mean = sum(xs) / len(xs)
        sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
        groups.append(GroupStatistics(value, cells, mean, sd, min(xs), max(xs)))
    return groups


def eta_squared(values_by_cell: Mapping[str, float], group_by_cell: Mapping[str, str]) -> float | None:
    """Between-group share of the variance, SS_between ÷ SS_total; None when the cells do not
    differ at all in the metric (SS_total = 0)."""
    values = _check_values(values_by_cell)
    groups = group_statistics(values, group_by_cell)
    grand = sum(values.values()) / len(values)
    total = sum((x - grand) ** 2 for x in values.values())
    if total == 0:
        return None
    between = sum(g.n_cells * (g.mean - grand) ** 2 for g in groups)
    return between / total


def too_few_cells(groups: Sequence[GroupStatistics], min_cells_per_group: int = MIN_CELLS_PER_GROUP) -> str:
    """Why a variable's groups cannot tell anything, or "" when they can."""
    if len(groups) < 2:
        return "one group only: every cell compared has the same value"
    small = [g for g in groups if g.n_cells < min_cells_per_group]
    if small:
        listed = ", ".join(f"{g.value} has {g.n_cells} cell{'s' if g.n_cells != 1 else ''}" for g in small)
        return f"too few cells to tell: {listed} (at least {min_cells_per_group} per group needed)"
    return ""


def rank_variables(values_by_cell: Mapping[str, float], variables_by_cell: Mapping[str, Mapping[str, str]],
                   min_cells_per_group: int = MIN_CELLS_PER_GROUP) -> list[VariableScore]:
    """Every variable that differs between the cells, scored by η² of the metric over its groups.

    ``variables_by_cell``: cell → {variable: value as shown}; a variable a cell lacks is the group
    "not recorded". Order: the variables that can be told first, by η² (highest first), then those
    with too few cells, also by η²; ties by name.
    """
    values = _check_values(values_by_cell)
    missing = [cell for cell in values if cell not in variables_by_cell]
    if missing:
        raise ValueError(f"variables_by_cell: no variables for {', '.join(missing)}")
    names = sorted({name for cell in values for name in variables_by_cell[cell]})
    scores = []
    for name in names:
        group_of = {cell: variables_by_cell[cell].get(name, NOT_RECORDED) for cell in values}
        if len(set(group_of.values())) < 2:
            continue  # the same for every cell: nothing to rank
        groups = group_statistics(values, group_of)
        scores.append(VariableScore(name, tuple(groups), eta_squared(values, group_of),
                                    too_few_cells(groups, min_cells_per_group)))
    return sorted(scores, key=lambda s: (not s.told, -(s.eta_squared or 0.0), s.variable))


def differing_variables(variables_by_cell: Mapping[str, Mapping[str, str]]) -> tuple[list[str], dict[str, str]]:
    """(the variables whose value differs between the cells, {variable: value} of those equal
    for all); a variable a cell lacks counts as "not recorded" for it."""
    names = sorted({name for variables in variables_by_cell.values() for name in variables})
    differ, same = [], {}
    for name in names:
        seen = {variables.get(name, NOT_RECORDED) for variables in variables_by_cell.values()}
        if len(seen) > 1:
            differ.append(name)
        elif seen:
            same[name] = seen.pop()
    return differ, same


def sort_values(values) -> list[str]:
    """Values in numeric order when each starts with a number ("3 MPa" before "70 MPa"), else
    alphabetically; "not recorded" last."""
    def key(value: str):
        number = LEADING_NUMBER.match(value)
        if number:
            return (0, float(number.group()), value)
        return (1 if value != NOT_RECORDED else 2, 0.0, value)

    return sorted(values, key=key)


def retention_curve(cycle_numbers: Sequence[int], capacity_mah: Sequence[float | None],
                    ref_cycle: int) -> tuple[list[int], list[float | None]]:
    """Each cycle's capacity ÷ that of ``ref_cycle`` (a fraction), from the reference cycle on."""
    if len(cycle_numbers) != len(capacity_mah):
        raise ValueError(f"capacity_mah: {len(capacity_mah)} values for {len(cycle_numbers)} cycle_numbers")
    by_cycle = dict(zip(cycle_numbers, capacity_mah))
    reference = by_cycle.get(ref_cycle)
    if reference is None or not reference > 0:
        raise ValueError(f"ref_cycle: cycle {ref_cycle} has no capacity to compare with")
    cycles = [c for c in cycle_numbers if c >= ref_cycle]
    return cycles, [None if by_cycle[c] is None else by_cycle[c] / reference for c in cycles]


def last_common_cycle(cycles_by_cell: Mapping[str, Sequence[int]]) -> int | None:
    """The last cycle every cell reached (the smallest of their last cycles); None without cells
    or when a cell has no cycle."""
    if not cycles_by_cell or any(len(cycles) == 0 for cycles in cycles_by_cell.values()):
        return None
    return min(max(cycles) for cycles in cycles_by_cell.values())


def highest_common_c_rate(c_rates_by_cell: Mapping[str, Sequence[float]], reference_c_rate: float) -> float | None:
    """The highest C-rate every cell was cycled at, other than the reference rate; None if none."""
    common = None
    for rates in c_rates_by_cell.values():
        rates = {float(r) for r in rates if r is not None}
        common = rates if common is None else common & rates
    common = {r for r in (common or set()) if r != reference_c_rate}
    return max(common) if common else None
