"""Distributions of per-case measurements: graph breaks, hook overhead, compile time, speedup.

The values come from the scope's one read of the results (Scope.rows) and are
sorted in Python; quantiles and histogram counts then come from the sorted
lists. Graph breaks count only cases that got past capture (a capture_failed
case, e.g. a break under fullgraph, is not "captured"); speedups only where > 0.
"""
from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from db.status import CaseStatus
from reports.scope import Scope
from reports.stats import Dist, Histogram, describe, histogram, quantile

# name -> (label, unit)
METRICS: dict[str, tuple[str, str]] = {
    "graph_breaks": ("graph breaks per module", ""),
    "hook_overhead_us": ("frame-hook overhead per call", "µs"),
    "compile_s": ("backend compile time", "s"),
    "speedup": ("speedup over eager", "×"),
}


def _fetch(scope: Scope) -> dict[str, list[tuple[str, float]]]:
    """(project, value) of every metric, cached (the distributions and the
    per-project medians read the same values)."""
    if "metrics" not in scope._cache:
        rows = scope.rows()
        capture_failed = CaseStatus.CAPTURE_FAILED.value
        scope._cache["metrics"] = {
            "graph_breaks": [(r.repo_id, r.graph_break_count) for r in rows
                             if r.graph_break_count is not None and r.status != capture_failed],
            "hook_overhead_us": [(r.repo_id, r.hook_overhead_us) for r in rows if r.hook_overhead_us is not None],
            "compile_s": [(r.repo_id, r.compile_s) for r in rows if r.compile_s is not None],
            "speedup": [(r.repo_id, r.speedup) for r in rows if r.speedup is not None and r.speedup > 0],
        }
    return scope._cache["metrics"]


def pairs(scope: Scope, name: str) -> list[tuple[str, float]]:
    return _fetch(scope)[name]


def values(scope: Scope, name: str) -> list[float]:
    """The sorted values of one metric in the scope."""
    vals = [v for _, v in pairs(scope, name)]
    vals.sort()
    return vals


def all_values(scope: Scope, names: list[str] | None = None) -> dict[str, list[float]]:
    return {name: values(scope, name) for name in (list(METRICS) if names is None else names)}


def medians_by_project(scope: Scope, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for repo, items in itertools.groupby(sorted(pairs(scope, name)), key=lambda p: p[0]):
        out[repo] = quantile([v for _, v in items], 0.5)
    return out


HISTOGRAMS = ("compile_s", "speedup")


def summarize(scope: Scope, bins: int = 24) -> tuple[dict[str, Dist], dict[str, Histogram]]:
    """Every metric's summary, plus log-spaced histograms of compile time and speedup
    (both span orders of magnitude)."""
    dists, hists = {}, {}
    for name, vals in all_values(scope).items():
        dists[name] = describe(vals, presorted=True)
        if name in HISTOGRAMS:
            hists[name] = histogram(vals, bins=bins, log=True, presorted=True)
    return dists, hists


def break_count_buckets(scope: Scope, cap: int = 10) -> list[dict[str, Any]]:
    """How many captured cases had 0, 1, ..., `cap`+ graph breaks."""
    counts = Counter(min(int(v), cap) for _, v in pairs(scope, "graph_breaks"))
    return [{"breaks": f"{b}+" if b == cap else str(b), "count": counts[b]} for b in sorted(counts)]
