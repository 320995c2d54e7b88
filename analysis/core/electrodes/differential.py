"""Incremental capacity dQ/dE and differential voltage dE/dQ of one electrode's branch.

Computed on one half cycle at a time (one direction, the capacity Q counted from its start),
for a full-cell voltage or an electrode's potential alike; the method and every parameter are
stored with the curve.

* **dQ/dE** (``potential_bins_gauss``): the capacity passed in each potential bin of width
  ``bin_width_v`` (bins aligned on multiples of the width, so curves of different cycles share
  a grid), divided by the width, then smoothed with a Gaussian of ``fwhm_v`` (σ = FWHM/2.3548).
  Between two samples the potential is taken as linear in Q, so each interval's capacity is
  shared among the bins it crosses in proportion to the potential range it spends in each; an
  interval of constant potential puts its capacity in its bin. The curve's integral over E is
  the branch's capacity before and after smoothing (the kernel is normalised and the grid
  padded), and noise that moves the potential back and forth on a plateau only widens the
  peak, it adds no capacity. This is the binning of LEAN (Feng et al., eTransportation 3
  (2020) 100051) with the exact split of each interval, and the Gaussian post-smoothing of
  cellpy's ICA converter.
* **dE/dQ** (``uniform_capacity_savgol``): the potential resampled (linearly) on a uniform Q grid
  of ``step_fraction`` of the branch's capacity, then a Savitzky–Golay first derivative of
  order ``polyorder`` over a window of ``window_fraction`` of the capacity (an odd number of
  grid points, at least polyorder + 2), polynomial fits at the ends (scipy ``mode="interp"``).
  Exact on a polynomial of degree ≤ ``polyorder``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.signal import savgol_filter

from .three_electrode import METADATA_KEY, as_float_array, json_safe

VERSION = "1.0.0"
FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
DQ_DE_DEFAULTS = {"bin_width_v": 0.005, "fwhm_v": 0.010}
DE_DQ_DEFAULTS = {"step_fraction": 0.005, "window_fraction": 0.05, "polyorder": 3}


@dataclasses.dataclass(frozen=True)
class DifferentialCurve:
    """dQ/dE (``kind="dq_de"``: x = potential in V, y in mAh/V) or dE/dQ (``kind="de_dq"``:
    x = capacity since the branch start in mAh, y in V/mAh), with the method and parameters."""

    kind: str
    x: np.ndarray
    y: np.ndarray
    params: dict

    @property
    def x_name(self) -> str:
        return "potential_v" if self.kind == "dq_de" else "capacity_mah"

    @property
    def y_name(self) -> str:
        return "dq_de_mah_v" if self.kind == "dq_de" else "de_dq_v_mah"

    def peak(self) -> tuple[float, float]:
        """(x, y) of the largest |y| (NaN, NaN for an empty curve)."""
        if self.y.size == 0:
            return math.nan, math.nan
        k = int(np.argmax(np.abs(self.y)))
        return float(self.x[k]), float(self.y[k])

    def to_arrow(self) -> pa.Table:
        import json
        return pa.table({self.x_name: pa.array(self.x), self.y_name: pa.array(self.y)}
                        ).replace_schema_metadata({METADATA_KEY: json.dumps(json_safe(self.params)).encode()})


def _branch(capacity_mah: Any, potential_v: Any) -> tuple[np.ndarray, np.ndarray]:
    q = as_float_array(capacity_mah, "capacity_mah")
    e = as_float_array(potential_v, "potential_v")
    if q.size != e.size:
        raise ValueError(f"capacity_mah has {q.size} values, potential_v has {e.size}")
    keep = np.isfinite(q) & np.isfinite(e)
    q, e = q[keep], e[keep]
    if q.size and np.any(np.diff(q) < -1e-12):
        raise ValueError("capacity_mah must not decrease along the branch (one half cycle, "
                         "capacity counted from its start)")
    return q, e


def _gaussian_kernel(fwhm_v: float, bin_width_v: float) -> np.ndarray:
    sigma_bins = fwhm_v * FWHM_TO_SIGMA / bin_width_v
    half = int(math.ceil(4.0 * sigma_bins))
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma_bins) ** 2)
    return kernel / kernel.sum()


def binned_capacity_mah(capacity_mah: Any, potential_v: Any, edges_v: Any) -> np.ndarray:
    """Capacity passed between each pair of consecutive ``edges_v`` (increasing), the potential
    linear in Q between samples (an interval of constant potential counted in its bin)."""
    q, e = _branch(capacity_mah, potential_v)
    edges = as_float_array(edges_v, "edges_v")
    if edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("edges_v must be at least two increasing potentials")
    out = np.zeros(edges.size - 1)
    if q.size < 2:
        return out
    dq = np.diff(q)
    lo = np.minimum(e[:-1], e[1:])
    hi = np.maximum(e[:-1], e[1:])
    span = hi - lo
    flat = span <= 1e-12
    # flat intervals: all of their capacity where they are
    if flat.any():
        k = np.searchsorted(edges, lo[flat], side="right") - 1
        inside = (k >= 0) & (k < out.size)
        np.add.at(out, k[inside], dq[flat][inside])
    sloped = ~flat
    if sloped.any():
        # G(E) = capacity passed at potentials below E: piecewise linear, its slope changing
        # by +density at each interval's low end and −density at its high end
        density = dq[sloped] / span[sloped]
        points = np.concatenate((lo[sloped], hi[sloped]))
        change = np.concatenate((density, -density))
        order = np.argsort(points, kind="stable")
        points, change = points[order], change[order]
        slope = np.cumsum(change)
        g = np.concatenate(([0.0], np.cumsum(slope[:-1] * np.diff(points))))
        g_edges = np.interp(edges, points, g, left=0.0, right=g[-1])
        out += np.diff(g_edges)
    return out


def incremental_capacity(capacity_mah: Any, potential_v: Any, *,
                         bin_width_v: float = DQ_DE_DEFAULTS["bin_width_v"],
                         fwhm_v: float = DQ_DE_DEFAULTS["fwhm_v"]) -> DifferentialCurve:
    """dQ/dE of one branch (mAh/V vs V), see the module docstring. ``fwhm_v`` = 0: no
    smoothing."""
    if not (math.isfinite(bin_width_v) and bin_width_v > 0):
        raise ValueError(f"bin_width_v must be a positive number, not {bin_width_v!r}")
    if not (math.isfinite(fwhm_v) and fwhm_v >= 0):
        raise ValueError(f"fwhm_v must be zero or a positive number, not {fwhm_v!r}")
    q, e = _branch(capacity_mah, potential_v)
    params = {"method": "potential_bins_gauss", "version": VERSION, "bin_width_v": bin_width_v,
              "fwhm_v": fwhm_v, "sigma_v": fwhm_v * FWHM_TO_SIGMA,
              "capacity_mah": float(q[-1] - q[0]) if q.size else 0.0}
    if q.size < 2:
        return DifferentialCurve("dq_de", np.zeros(0), np.zeros(0), params)
    kernel = _gaussian_kernel(fwhm_v, bin_width_v) if fwhm_v > 0 else np.ones(1)
    pad = kernel.size // 2
    first = int(math.floor(e.min() / bin_width_v)) - pad
    last = int(math.ceil(e.max() / bin_width_v)) + pad
    last = max(last, first + kernel.size)  # room for the whole kernel
    edges = np.arange(first, last + 1) * bin_width_v
    density = binned_capacity_mah(q, e, edges) / bin_width_v
    if kernel.size > 1:
        density = np.convolve(density, kernel, mode="same")
    centres = 0.5 * (edges[1:] + edges[:-1])
    return DifferentialCurve("dq_de", centres, density, params)


def differential_voltage(capacity_mah: Any, potential_v: Any, *,
                         step_fraction: float = DE_DQ_DEFAULTS["step_fraction"],
                         window_fraction: float = DE_DQ_DEFAULTS["window_fraction"],
                         polyorder: int = DE_DQ_DEFAULTS["polyorder"]) -> DifferentialCurve:
    """dE/dQ of one branch (V/mAh vs mAh since the branch start), see the module docstring."""
    for name, value in (("step_fraction", step_fraction), ("window_fraction", window_fraction)):
        if not (math.isfinite(value) and 0 < value < 1):
            raise ValueError(f"{name} must be between 0 and 1, not {value!r}")
    if int(polyorder) != polyorder or polyorder < 1:
        raise ValueError(f"polyorder must be a whole number ≥ 1, not {polyorder!r}")
    q, e = _branch(capacity_mah, potential_v)
    q = q - q[0] if q.size else q
    total = float(q[-1]) if q.size else 0.0
    n_steps = int(round(1.0 / step_fraction))
    window = int(round(window_fraction / step_fraction))
    smallest = int(polyorder) + 2
    window = max(window, smallest)
    window += 1 - window % 2  # odd
    params = {"method": "uniform_capacity_savgol", "version": VERSION,
              "step_fraction": step_fraction, "window_fraction": window_fraction,
              "polyorder": int(polyorder), "window_points": window,
              "step_mah": total / n_steps if total > 0 else 0.0, "capacity_mah": total}
    if q.size < 2 or total <= 0 or n_steps + 1 < window:
        return DifferentialCurve("de_dq", np.zeros(0), np.zeros(0), params)
    # where Q repeats (rows at one time stamp, a pause), keep the last potential
    last = np.r_[np.diff(q) > 0, True]
    q_u, e_u = q[last], e[last]
    if q_u[0] > 0:
        q_u, e_u = np.r_[0.0, q_u], np.r_[e[0], e_u]
    grid = np.linspace(0.0, total, n_steps + 1)
    resampled = np.interp(grid, q_u, e_u)
    slope = savgol_filter(resampled, window, int(polyorder), deriv=1, delta=total / n_steps,
                          mode="interp")
    return DifferentialCurve("de_dq", grid, slope, params)


def profile_change(first: DifferentialCurve, second: DifferentialCurve) -> float:
    """How far the shape of two dQ/dE curves differs: ½∫|g₁ − g₂|dE with each curve normalised
    to unit area (the total-variation distance of the two capacity distributions over
    potential): 0 for the same shape (whatever the capacity), 1 when they share no potential.
    Both curves need the same bin width (their grids are aligned). NaN if either is empty."""
    if first.kind != "dq_de" or second.kind != "dq_de":
        raise ValueError("profile_change compares two dQ/dE curves")
    width = first.params.get("bin_width_v")
    if width != second.params.get("bin_width_v"):
        raise ValueError("the two dQ/dE curves have different bin widths")
    if first.y.size == 0 or second.y.size == 0:
        return math.nan
    a_index = np.rint(first.x / width - 0.5).astype(np.int64)
    b_index = np.rint(second.x / width - 0.5).astype(np.int64)
    low = min(a_index[0], b_index[0])
    high = max(a_index[-1], b_index[-1])
    a = np.zeros(high - low + 1)
    b = np.zeros(high - low + 1)
    a[a_index - low] = np.clip(first.y, 0.0, None)
    b[b_index - low] = np.clip(second.y, 0.0, None)
    if a.sum() <= 0 or b.sum() <= 0:
        return math.nan
    return float(0.5 * np.abs(a / a.sum() - b / b.sum()).sum())
