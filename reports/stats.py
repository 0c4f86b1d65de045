"""Summary statistics and histogram bins, in plain Python (no numpy needed).

Why medians, p90 and geometric means: compile times and speedups are skewed
and multiplicative, so a mean is dominated by a few outliers; a geometric mean
is only meaningful when every value is positive, so it is omitted otherwise
instead of silently dropping the zeros.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence


@dataclass
class Dist:
    """Summary of one metric over the cases that have it."""

    n: int
    min: float | None = None
    median: float | None = None
    p90: float | None = None
    max: float | None = None
    mean: float | None = None
    geomean: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    if not sorted_values:
        raise ValueError("quantile of no values")
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def describe(values: Sequence[float], presorted: bool = False) -> Dist:
    """n, min, median, p90, max, mean, and geomean when all values are > 0."""
    vals = list(values) if presorted else sorted(values)
    if not vals:
        return Dist(n=0)
    geo = None
    if vals[0] > 0:
        geo = math.exp(math.fsum(map(math.log, vals)) / len(vals))
    return Dist(n=len(vals), min=vals[0], median=quantile(vals, 0.5), p90=quantile(vals, 0.9),
                max=vals[-1], mean=math.fsum(vals) / len(vals), geomean=geo)


@dataclass
class Histogram:
    """Bin edges (len = len(counts) + 1) and counts; `log` says how edges are spaced."""

    edges: list[float]
    counts: list[int]
    log: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def histogram(values: Sequence[float], bins: int = 20, log: bool = False, presorted: bool = False) -> Histogram:
    """Equal-width bins, in log10 space when `log` (skipping values <= 0).

    Counts come from bisecting the sorted values at each edge: O(bins log n).
    """
    vals = list(values) if presorted else sorted(values)
    vals = [v for v in vals if math.isfinite(v)] if vals and not (math.isfinite(vals[0]) and math.isfinite(vals[-1])) else vals
    if log:
        vals = vals[bisect.bisect_right(vals, 0.0):]
    if not vals:
        return Histogram([], [], log)
    lo, hi = vals[0], vals[-1]
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    if hi == lo:
        hi = lo + 1.0
    width = (hi - lo) / bins
    edges = [lo + i * width for i in range(bins + 1)]
    if log:
        edges = [10 ** e for e in edges]
    # bin i holds edges[i] <= v < edges[i + 1]; the last bin also holds the maximum.
    cuts = [bisect.bisect_left(vals, e) for e in edges[1:-1]]
    bounds = [0, *cuts, len(vals)]
    counts = [bounds[i + 1] - bounds[i] for i in range(bins)]
    return Histogram(edges, counts, log)
