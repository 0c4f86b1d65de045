"""One row per project: its cases and how far they got, sortable by any column.

Why per project: a few large repos can dominate the overall rates; the
per-project view shows whether a failure is one repo's quirk or everywhere.
Counts come from Scope.groups (the funnel-level predicates evaluated in
SQL); medians reuse the values the distributions read.
"""
from __future__ import annotations

from typing import Any

from reports import predicates
from reports.rates import level_counts
from reports.scope import ReportError, Scope
from reports.distributions import medians_by_project

COLUMNS = ["project", "stars", "cases", "eager", "captured", "full_graph", "compiled", "parity", "passed",
           "capture_pct", "pass_pct", "pass_of_eager_pct", "graph_breaks", "compile_s_median",
           "speedup_median"]
NUMERIC = set(COLUMNS) - {"project"}


def _pct(n: int, d: int) -> float | None:
    return round(100.0 * n / d, 2) if d else None


def project_rows(scope: Scope) -> list[dict[str, Any]]:
    """Every project with a result in the scope, in project order."""
    counts = level_counts(scope, group_by_repo=True)
    stars = {r[0]: r[1] for r in scope.query("select id, stars from repos")} if len(counts) > 50 else {
        r[0]: r[1] for r in scope.query(
            f"select id, stars from repos where id in ({','.join('?' * len(counts))})", list(counts))}
    compile_med = medians_by_project(scope, "compile_s")
    speedup_med = medians_by_project(scope, "speedup")
    rows = []
    for repo in sorted(k for k in counts if k is not None):
        c = counts[repo]
        rows.append({
            "project": repo, "stars": stars.get(repo), "cases": c["total"],
            **{name: c[name] for name in predicates.LEVELS},
            "capture_pct": _pct(c["captured"], c["eager"]), "pass_pct": _pct(c["passed"], c["total"]),
            "pass_of_eager_pct": _pct(c["passed"], c["eager"]), "graph_breaks": c["breaks"],
            "compile_s_median": compile_med.get(repo), "speedup_median": speedup_med.get(repo),
        })
    return rows


def sort_rows(rows: list[dict[str, Any]], spec: str | None) -> list[dict[str, Any]]:
    """Sort by `COLUMN`, `COLUMN:asc` or `COLUMN:desc` (numbers default to descending).

    Missing values sort last either way; ties keep project order.
    """
    if not spec:
        spec = "cases"
    column, _, direction = spec.partition(":")
    column = column.strip().lstrip("-")
    if column not in COLUMNS:
        raise ReportError(f"cannot sort by {column!r}; columns: {', '.join(COLUMNS)}")
    if direction not in ("", "asc", "desc"):
        raise ReportError(f"sort direction must be asc or desc, not {direction!r}")
    desc = direction == "desc" or (direction == "" and column in NUMERIC)
    if spec.strip().startswith("-"):
        desc = True
    present = [r for r in rows if r.get(column) is not None]
    missing = [r for r in rows if r.get(column) is None]
    present = sorted(sorted(present, key=lambda r: r["project"]), key=lambda r: r[column], reverse=desc)
    return present + missing
