"""The funnel: how many repos and cases ended in each status.

Why every status, in order: an honest denominator. A report that shows only
"pass" and "compile_failed" hides the modules that never imported; the funnel
shows where each one stopped, with the stage of every timeout, crash and OOM.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from db.status import ABNORMAL, FUNNEL_ORDER, RepoStatus, Stage, failure_kind
from reports.scope import Scope

_ABNORMAL = {s.value for s in ABNORMAL}
_STAGE_ORDER = {s.value: i for i, s in enumerate(Stage)}


@dataclass
class FunnelRow:
    status: str
    stage: str | None
    count: int
    percent: float
    kind: str | None = None        # compiler | harness (db.status.failure_kind); None for pass and repos
    reason: str | None = None      # a reason class that sets the kind (e.g. no_tensor_ops)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pct(n: int, total: int) -> float:
    return round(100.0 * n / total, 2) if total else 0.0


def repo_funnel(scope: Scope) -> list[FunnelRow]:
    """Repos by status (repo status is not per run: all repos in the database,
    or the one project of the scope)."""
    sql = "select status, count(*) from repos where 1"
    params: list[Any] = []
    if scope.project is not None:
        sql += " and id = ?"
        params.append(scope.project)
    elif selection_recorded(scope):   # only what a crawl selected, not every repo a discovery saw
        sql += " and selected = 1"
    counts = {s: n for s, n in scope.query(sql + " group by status", params)}
    total = sum(counts.values())
    order = [s.value for s in RepoStatus]
    names = order + sorted(s for s in counts if s not in order)
    return [FunnelRow(s, None, counts.get(s, 0), _pct(counts.get(s, 0), total))
            for s in names if s in counts or s in order]


def selection_recorded(scope: Scope) -> bool:
    """Whether this database records which repos a crawl selected (repos.selected, issue 12);
    older ones don't, and their funnel counts every repo as before."""
    if scope.col("selected", "r", "repos") == "null":
        return False
    return scope.query("select 1 from repos where selected = 1 limit 1") != []


def seen_not_selected(scope: Scope) -> int:
    """Repos a discovery stored while walking its slices that no crawl selected."""
    if scope.project is not None or not selection_recorded(scope):
        return 0
    return scope.query("select count(*) from repos where selected is null or selected = 0")[0][0]


def case_funnel(scope: Scope) -> list[FunnelRow]:
    """Results of the run by status in funnel order; timeout/crash/oom split by stage, and
    a status split by a reason class that changes its kind (capture_failed: no_tensor_ops)."""
    counts: dict[tuple[str, str | None, str | None], int] = {}
    for g in scope.groups():
        key = (g.status, g.stage, g.reason)
        counts[key] = counts.get(key, 0) + g.n
    total = sum(counts.values())
    known = {s: i for i, s in enumerate(FUNNEL_ORDER)}
    # Every normal status gets a row, zero or not; timeout/crash/oom only at stages that happened,
    # runnable (an eager-only check's verdict) only in the runs that have it.
    keys = set(counts) | {(s, None, None) for s in FUNNEL_ORDER if s not in _ABNORMAL and s != "runnable"}
    keys_sorted = sorted(keys, key=lambda k: (known.get(k[0], len(known)), k[0],
                                              _STAGE_ORDER.get(k[1] or "", len(_STAGE_ORDER)), k[1] or "",
                                              k[2] or ""))
    return [FunnelRow(s, st, counts.get((s, st, rs), 0), _pct(counts.get((s, st, rs), 0), total),
                      kind=failure_kind(s, st, rs), reason=rs)
            for s, st, rs in keys_sorted]


def failure_split(scope: Scope) -> list[dict[str, Any]]:
    """Failures by kind: compiler (capture/compile/run/parity and timeout/crash/oom
    there) against harness (import/init/inputs/eager), with the statuses in each."""
    from reports.flaky import flaky_by_status
    rows = case_funnel(scope)
    total = sum(r.count for r in rows)
    flaky = flaky_by_status(scope)   # compiler-stage failures their rerun did not repeat
    out = []
    for kind in ("compiler", "flaky", "harness"):
        statuses = []
        for r in rows:
            if not r.count:
                continue
            n_flaky = flaky.get((r.status, r.stage), 0) if r.kind == "compiler" and not r.reason else 0
            n = (r.count - n_flaky) if kind == "compiler" else n_flaky if kind == "flaky" else r.count
            if n and (r.kind == kind or (kind == "flaky" and r.kind == "compiler")):
                statuses.append({"status": r.status, "stage": r.stage, "reason": r.reason, "count": n})
        n = sum(x["count"] for x in statuses)
        if kind == "flaky" and not n:
            continue
        out.append({"kind": kind, "count": n, "percent": _pct(n, total), "statuses": statuses})
    return out


def pending_cases(scope: Scope) -> int:
    """Modules of the projects this run has touched that have no result yet (a live crawl).

    From repos.module_count (the modules of the current scan) minus the run's
    results per project; approximate only if a project was re-scanned at a
    new commit in the middle of a run.
    """
    per_repo: dict[str, int] = {}
    for g in scope.groups():
        per_repo[g.repo_id] = per_repo.get(g.repo_id, 0) + g.n
    if not per_repo:
        return 0
    if scope.project is not None:
        rows = scope.query("select id, module_count from repos where id = ?", [scope.project])
    else:
        rows = scope.query("select id, module_count from repos where module_count is not null")
    return sum(max(0, int(m or 0) - per_repo[r]) for r, m in rows if r in per_repo)


def case_reasons(scope: Scope) -> list[dict[str, Any]]:
    """Failed cases by reason class (results.reason: capture/reasons.py), within their status.

    Why apart: `not_a_model` (abstract bases, modules without forward) and
    `needs_network` (weights downloaded at construction) stay in the funnel's
    denominator, but a user should see how much of a status they make up.
    """
    from capture.reasons import LABELS
    where, params = scope.base_where()
    try:
        rows = scope.query(f"select x.status, x.reason, count(*) from results x where {where} "
                           "and x.reason is not null and x.reason != '' group by x.status, x.reason "
                           "order by count(*) desc, x.status, x.reason", params)
    except Exception:  # noqa: BLE001 - a database from before results.reason: no reasons
        return []
    return [{"status": st, "reason": r, "label": LABELS.get(r, r), "count": n} for st, r, n in rows]
