"""The history of every run in a database: how did the rates move from run to run?

Why over the same cases: a later run may have crawled more repos, or be
half done; rates over different case sets move for reasons that are not
torch's. Within one check (inference, training, dynamic, ...) every run's
rates are computed over the cases that every run of that check has a result
for, so a change in the plot is a change in behaviour. Each run's own case
count is shown beside it.

Why the report's definitions: the rates are `reports.rates.rates` over a
`Scope` restricted to those cases (pass and capture over the cases that ran
in eager, as the report's headline), the compile-time median is the
report's compile_s distribution, and the changed cases are those whose
status differs from the previous run of the same check over the cases both
have, as `report --compare` counts them.

Runs are in time order (runs.started_at, then insertion order). A database
made by `graphcrawl merge` holds the runs of all its sources, so its history
is theirs together.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from reports import distributions, rates as rates_mod
from reports.checks import CHECK_SUFFIXES
from reports.scope import Scope, check_project
from reports.stats import quantile
from db.store import Store

CHECK_ORDER = ("inference", "training", "dynamic", "export", "eager")


@dataclass
class SameCases(Scope):
    """A run's results restricted to a fixed set of cases (given as SQL selecting case ids)."""

    cases_sql: str = ""
    cases_params: list[Any] = field(default_factory=list)

    def base_where(self, alias: str = "x") -> tuple[str, list[Any]]:
        sql, params = super().base_where(alias)
        return f"{sql} and {alias}.case_id in ({self.cases_sql})", params + list(self.cases_params)


@dataclass
class HistoryRun:
    run: str
    check: str
    started_at: str | None
    ended_at: str | None
    torch: str | None
    backend: str | None
    device: str | None
    fullgraph: bool
    cases: int                      # this run's results (in the project, if one is given)
    same_cases: int                 # the check's common cases this run is rated over
    runnable: int
    captured: int
    passed: int
    capture_pct: float | None       # of runnable, over the same cases
    pass_pct: float | None          # of runnable, over the same cases
    pass_pct_of_all: float | None   # of all the same cases
    compile_median_s: float | None
    compile_n: int
    previous: str | None            # the previous run of the same check
    changed: int                    # cases whose status differs from the previous run
    changes: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CheckHistory:
    check: str
    same_cases: int
    runs: list[HistoryRun]

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "same_cases": self.same_cases, "runs": [r.as_dict() for r in self.runs]}


def check_of(run: dict[str, Any]) -> str:
    """runs.check, or for a database older than that column, the check its name says."""
    if run.get("check"):
        return str(run["check"])
    for check, suffix in CHECK_SUFFIXES.items():
        if str(run["id"]).endswith(suffix):
            return check
    return "inference"


def _order(check: str) -> tuple[int, str]:
    return (CHECK_ORDER.index(check) if check in CHECK_ORDER else len(CHECK_ORDER), check)


def _runs(store: Store) -> list[dict[str, Any]]:
    cols = {r[1] for r in store.db.conn.execute("pragma table_info(runs)")}
    pick = ", ".join(f'"{c}"' if c in cols else f'null as "{c}"' for c in
                     ("id", "started_at", "ended_at", "torch", "backend", "device", "fullgraph", "check"))
    cur = store.db.conn.execute(f"select {pick} from runs order by started_at, rowid")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _changes(store: Store, prev: str, run: str, project: str | None) -> list[dict[str, Any]]:
    sql = ("select b.case_id, b.repo_id, a.status, b.status, b.stage, b.error_type from results a "
           "join results b on b.case_id = a.case_id and b.run_id = ? where a.run_id = ? and a.status != b.status")
    params: list[Any] = [run, prev]
    if project:
        sql += " and a.repo_id = ?"
        params.append(project)
    return [{"case_id": c, "project": repo, "before": sa, "after": sb, "stage": stage, "error_type": etype}
            for c, repo, sa, sb, stage, etype in store.db.conn.execute(sql + " order by b.case_id", params)]


def history(store: Store, project: str | None = None) -> list[CheckHistory]:
    """Every run of the database, grouped by check in CHECK_ORDER, each check's runs in time order."""
    project = check_project(store, project)
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in _runs(store):
        groups.setdefault(check_of(run), []).append(run)
    out = []
    for check in sorted(groups, key=_order):
        runs = groups[check]
        ids = [r["id"] for r in runs]
        marks = ",".join("?" * len(ids))
        proj = " and repo_id = ?" if project else ""
        cases_sql = (f"select case_id from results where run_id in ({marks}){proj} "
                     f"group by case_id having count(*) = {len(ids)}")
        cases_params = ids + ([project] if project else [])
        same = store.db.conn.execute(f"select count(*) from ({cases_sql})", cases_params).fetchone()[0]
        rows: list[HistoryRun] = []
        for i, run in enumerate(runs):
            scope = SameCases(store, run["id"], project, cases_sql=cases_sql, cases_params=cases_params)
            by_name = {r.name: r for r in rates_mod.rates(scope)}
            compile_s = distributions.values(scope, "compile_s")
            total_sql = "select count(*) from results where run_id = ?" + proj
            total = store.db.conn.execute(total_sql, [run["id"]] + ([project] if project else [])).fetchone()[0]
            prev = runs[i - 1]["id"] if i else None
            changes = _changes(store, prev, run["id"], project) if prev else []
            rows.append(HistoryRun(
                run=run["id"], check=check, started_at=run["started_at"], ended_at=run["ended_at"],
                torch=run["torch"], backend=run["backend"], device=run["device"], fullgraph=bool(run["fullgraph"]),
                cases=total, same_cases=by_name["eager"].total, runnable=by_name["eager"].count,
                captured=by_name["captured"].count, passed=by_name["passed"].count,
                capture_pct=by_name["captured"].pct_of_runnable, pass_pct=by_name["passed"].pct_of_runnable,
                pass_pct_of_all=by_name["passed"].pct_of_all,
                compile_median_s=quantile(compile_s, 0.5) if compile_s else None, compile_n=len(compile_s),
                previous=prev, changed=len(changes), changes=changes))
        out.append(CheckHistory(check=check, same_cases=same, runs=rows))
    return out
