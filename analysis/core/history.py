"""One cycle history per cell across its datasets (runs moved to another channel, restarted
after a pause, a file split by the cycler).

Pure module. The datasets come in time order, each with its per-cycle summary rows (as
:func:`analysis.core.cycling.summarise_cycles` gives them, or read back from the database).
Cycles are numbered on across them: a dataset's cycle n ≥ 1 is cycle ``offset + n`` of the
cell, the offset being the last number of the datasets before. Cycle 0 of a dataset (the end of
a half cycle begun before its file, e.g. the rest of a cycle interrupted by a restart) gets no
number of its own: it is the remainder of the cycle before and is left out, as every
incomplete cycle is, of the metrics.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

VERSION = "1.0.0"


@dataclasses.dataclass(frozen=True)
class CellHistory:
    """``rows``: every summary row in time order, with ``dataset``, ``dataset_cycle_number``
    (its number in its dataset) and ``cycle_number`` (its number in the cell's history, None
    for a cycle 0). ``feeds``: per dataset the cycles it gives, in the dataset's and the
    history's numbers."""

    rows: list[dict]
    feeds: list[dict]

    def numbered(self) -> list[dict]:
        """The rows that have a number in the history (what the metrics are computed from)."""
        return [row for row in self.rows if row["cycle_number"] is not None]


def join_history(parts: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> CellHistory:
    """The history of a cell from (dataset label, summary rows) pairs in time order."""
    rows: list[dict] = []
    feeds: list[dict] = []
    offset = 0
    for label, summary in parts:
        numbers = [int(row["cycle_number"]) for row in summary]
        if any(b < a for a, b in zip(numbers, numbers[1:])):
            raise ValueError(f"{label}: the summary rows must be in cycle order")
        for row in summary:
            number = int(row["cycle_number"])
            rows.append({**row, "dataset": label, "dataset_cycle_number": number,
                         "cycle_number": offset + number if number >= 1 else None})
        counted = [n for n in numbers if n >= 1]
        feeds.append({
            "dataset": label,
            "cycles": [counted[0], counted[-1]] if counted else None,
            "history_cycles": [offset + counted[0], offset + counted[-1]] if counted else None,
            "complete_cycles": sum(1 for row in summary
                                   if row.get("complete") and int(row["cycle_number"]) >= 1),
        })
        offset += max(counted, default=0)
    return CellHistory(rows, feeds)
