"""Success rates, each over two denominators, with the counts beside them.

Why two denominators (DESIGN "honest denominators"): "capture works 99% of
the time" is a statement about modules that run in eager at all; over every
scanned module the number is much lower, because import, constructor and
input deduction fail first. Both are shown, never one without the other.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from reports import predicates
from reports.scope import Scope


@dataclass
class Rate:
    name: str
    label: str
    count: int
    runnable: int
    total: int
    pct_of_runnable: float | None
    pct_of_all: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pct(n: int, d: int) -> float | None:
    return round(100.0 * n / d, 2) if d else None


def level_counts(scope: Scope, group_by_repo: bool = False) -> dict[str | None, dict[str, int]]:
    """Total and the count at each level of `predicates.LEVELS` (per project if asked)."""
    names = list(predicates.LEVELS)
    out: dict[str | None, list[int]] = {}
    for g in scope.groups():
        k = g.repo_id if group_by_repo else None
        acc = out.get(k)
        if acc is None:
            acc = out[k] = [0] * (len(names) + 2)
        acc[0] += g.n
        for i, n in enumerate(g.levels):
            acc[1 + i] += n
        acc[-1] += g.breaks
    return {k: dict(zip(["total", *names, "breaks"], acc)) for k, acc in out.items()}


def rates(scope: Scope) -> list[Rate]:
    """The rates table: runnable in eager, captured, full graph, compiled, parity, pass."""
    counts = level_counts(scope).get(None) or {name: 0 for name in ("total", *predicates.LEVELS)}
    total, runnable = counts["total"], counts["eager"]
    return [Rate(name=name, label=label, count=counts[name], runnable=runnable, total=total,
                 pct_of_runnable=_pct(counts[name], runnable), pct_of_all=_pct(counts[name], total))
            for name, (label, _) in predicates.LEVELS.items()]
