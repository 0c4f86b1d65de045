"""Compare two runs over the cases both have: what regressed, what improved.

Why only common cases: run B may have crawled more repos, or be half done;
comparing pass counts of different case sets says nothing. A case is the same
module with the same stored spec in both runs, so a status change is a change
of torch/backend behaviour, not of the inputs.

A regression (exit code 1, for CI): a case that passed in A and does not
pass in B, or a metric beyond its threshold: compile time up by a ratio (and
by an absolute floor, so 0.1 s -> 0.2 s is not news), speedup down by a
ratio, more graph breaks. A case flaky in either run (its compiler failure
was not repeated by the confirming rerun) is never a regression or a fix:
it is listed apart.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from db.status import FUNNEL_ORDER, CaseStatus
from db.store import Store
from reports import predicates
from reports.scope import ReportError, Scope, check_project, level_flags, resolve_run
from reports.summary import run_info

PASS = CaseStatus.PASS.value


@dataclass
class Thresholds:
    """When a metric change counts as a regression (and, mirrored, an improvement)."""

    compile_ratio: float = 1.5          # compile_s B/A at or above
    min_compile_delta_s: float = 1.0    # ... and B - A at least this many seconds
    speedup_ratio: float = 0.8          # speedup B/A at or below
    break_delta: int = 0                # graph_break_count B - A above this

    def check(self) -> None:
        if self.compile_ratio <= 1:
            raise ReportError("--compile-ratio must be > 1 (e.g. 1.5 = 50% slower)")
        if not 0 < self.speedup_ratio < 1:
            raise ReportError("--speedup-ratio must be between 0 and 1 (e.g. 0.8 = 20% slower)")
        if self.break_delta < 0 or self.min_compile_delta_s < 0:
            raise ReportError("--break-delta and --min-compile-delta must be >= 0")


@dataclass
class Comparison:
    run_a: dict[str, Any]
    run_b: dict[str, Any]
    project: str | None
    thresholds: Thresholds
    common: int
    only_a: int
    only_b: int
    levels: list[dict[str, Any]]
    transitions: list[dict[str, Any]]
    newly_failing: list[dict[str, Any]] = field(default_factory=list)
    newly_passing: list[dict[str, Any]] = field(default_factory=list)
    metric_regressions: list[dict[str, Any]] = field(default_factory=list)
    metric_improvements: list[dict[str, Any]] = field(default_factory=list)
    flaky: list[dict[str, Any]] = field(default_factory=list)   # flaky in A or B: neither regression nor fix
    timing: dict[str, Any] = field(default_factory=dict)   # timing_comparability(); see compile_metric

    @property
    def regressed(self) -> bool:
        return bool(self.newly_failing or self.metric_regressions)

    def matrix(self) -> tuple[list[str], list[str], dict[tuple[str, str], int]]:
        """Statuses of A (rows) and B (columns) that occur, and the counts."""
        order = {s: i for i, s in enumerate(FUNNEL_ORDER)}
        cells = {(t["a"], t["b"]): t["count"] for t in self.transitions}
        key = lambda s: (order.get(s, len(order)), s)  # noqa: E731
        return (sorted({a for a, _ in cells}, key=key), sorted({b for _, b in cells}, key=key), cells)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["regressed"] = self.regressed
        return d


# Two runs whose machines were loaded differently by more than this factor (the share of a
# core a CPU-bound process gets: max(1, load per core)) are not comparable on wall time.
LOAD_FACTOR_LIMIT = 1.25


def _load(run: dict[str, Any]) -> dict[str, Any] | None:
    import json
    try:
        value = json.loads(run.get("load_avg") or "null")
    except ValueError:
        return None
    return value if isinstance(value, dict) and value.get("n") else None


def timing_comparability(run_a: dict[str, Any], run_b: dict[str, Any]) -> dict[str, Any]:
    """Whether wall-clock compile times of two runs can be compared, and why not.

    From the load average each run recorded (runs.load_avg): a CPU-bound compile
    on a machine with load L per core gets about 1/max(1, L) of a core, so
    runs whose factors differ by more than LOAD_FACTOR_LIMIT are not
    comparable on wall time; compile CPU time (results.compile_cpu_s, process +
    children) is then compared instead where both runs have it.
    """
    la, lb = _load(run_a), _load(run_b)
    out: dict[str, Any] = {"load_a": la, "load_b": lb, "comparable": True, "why": None}
    if la is None or lb is None:
        out["why"] = "load not recorded for " + ("both runs" if la is None and lb is None else
                                                 ("run A" if la is None else "run B")) + "; assumed comparable"
        return out
    fa = max(1.0, la["mean"] / max(1, la.get("cores") or 1))
    fb = max(1.0, lb["mean"] / max(1, lb.get("cores") or 1))
    out["factor"] = round(max(fa, fb) / min(fa, fb), 3)
    if out["factor"] > LOAD_FACTOR_LIMIT:
        out["comparable"] = False
        out["why"] = (f"load average {la['mean']:g} on {la.get('cores')} cores in A vs {lb['mean']:g} on "
                      f"{lb.get('cores')} in B: wall-clock compile times differ by load alone "
                      f"(x{out['factor']:.2f}); compared on compile CPU time where recorded, else not at all")
    return out


def _pair_sql(project: str | None, cpu_a: str = "null", cpu_b: str = "null", flaky_a: str = "null",
              flaky_b: str = "null") -> str:
    from reports import predicates
    r = predicates.REDUCED
    side = lambda t: (f"{t}.status, {t}.stage, " + ", ".join(r[c].replace("x.", f"{t}.")  # noqa: E731
                                                            for c in ("graph_count", "graph_break_count",
                                                                      "max_abs_err"))
                      + f", {t}.compile_s, {t}.speedup, {t}.graph_break_count")
    sql = (f"select a.case_id, a.repo_id, {side('a')}, {side('b')}, a.compile_cache, b.compile_cache, "
           f"{cpu_a}, {cpu_b}, {flaky_a}, {flaky_b} "
           "from results a join results b on b.case_id = a.case_id and b.run_id = ? where a.run_id = ?")
    return sql + (" and a.repo_id = ?" if project else "") + " order by a.case_id"


def _errors(conn: Any, run: str, case_ids: list[str]) -> dict[str, tuple[Any, ...]]:
    """(stage, error_type, error_msg) of some cases of one run, read only for those."""
    out: dict[str, tuple[Any, ...]] = {}
    for start in range(0, len(case_ids), 500):
        chunk = case_ids[start:start + 500]
        cur = conn.cursor()
        cur.row_factory = None
        for cid, *rest in cur.execute(
                f"select case_id, stage, error_type, error_msg from results where run_id = ? and case_id in "
                f"({','.join('?' * len(chunk))})", [run, *chunk]):
            out[cid] = tuple(rest)
    return out


def compare_runs(store: Store, run_a: str, run_b: str, project: str | None = None,
                 thresholds: Thresholds | None = None) -> Comparison:
    """Everything that changed between `run_a` and `run_b` over their common cases.

    One join of the two runs is read (the columns the level predicates and the
    metrics need); the level predicates are evaluated by SQLite once per
    distinct combination (see reports.scope.level_flags), the rest in Python.
    """
    th = thresholds or Thresholds()
    th.check()
    run_a, run_b = resolve_run(store, run_a), resolve_run(store, run_b)
    if run_a == run_b:
        raise ReportError("--compare needs two different runs")
    project = check_project(store, project)
    conn = store.db.conn
    cur = conn.cursor()
    cur.row_factory = None
    scope = Scope(store, run_a)
    pairs = cur.execute(_pair_sql(project, scope.col("compile_cpu_s", "a"), scope.col("compile_cpu_s", "b"),
                                  scope.col("flaky", "a"), scope.col("flaky", "b")),
                        [run_b, run_a] + ([project] if project else [])).fetchall()
    timing = timing_comparability(store.run(run_a) or {}, store.run(run_b) or {})
    proj = " and repo_id = ?" if project else ""
    total_a, total_b = (cur.execute(f"select count(*) from results where run_id = ?{proj}",
                                    [run] + ([project] if project else [])).fetchone()[0] for run in (run_a, run_b))
    keys = {p[2:7] for p in pairs} | {p[10:15] for p in pairs}   # (status, stage, reduced...) of each side
    flags = level_flags(conn, keys)
    names = list(predicates.LEVELS)
    count_a = [0] * len(names)
    count_b = [0] * len(names)
    transitions: Counter = Counter()
    failing: list[tuple[str, str, str, str]] = []
    passing: list[tuple[str, str, str, str]] = []
    regress: list[dict[str, Any]] = []
    improve: list[dict[str, Any]] = []
    flaky: list[tuple[str, str, str, str]] = []
    for p in pairs:
        # the columns of _pair_sql: case, repo, each side's 8, then the pairs below
        case, repo, side_a, side_b = p[0], p[1], p[2:10], p[10:18]
        cache_a, cache_b, cpu_a, cpu_b, flaky_a, flaky_b = p[18:24]
        sa, sb = side_a[0], side_b[0]
        fa, fb = flags[side_a[:5]], flags[side_b[:5]]
        for i in range(len(names)):
            count_a[i] += fa[i]
            count_b[i] += fb[i]
        transitions[(sa, sb)] += 1
        if flaky_a or flaky_b:   # a verdict the rerun did not repeat is no change
            flaky.append((case, repo, sa, sb))
            continue
        if sa == PASS and sb != PASS:
            failing.append((case, repo, sa, sb))
        elif sa != PASS and sb == PASS:
            passing.append((case, repo, sa, sb))
        for metric, a, b in (("compile_s", side_a[5], side_b[5]), ("speedup", side_a[6], side_b[6]),
                             ("graph_break_count", side_a[7], side_b[7])):
            if metric == "compile_s" and cache_a != cache_b:
                continue  # a warm-cache compile is not comparable with a cold one
            if metric == "compile_s" and not timing["comparable"] and a is not None and b is not None:
                if cpu_a is None or cpu_b is None:
                    timing["skipped"] = timing.get("skipped", 0) + 1
                    continue  # wall time under different load: no verdict
                metric, a, b = "compile_cpu_s", cpu_a, cpu_b
            verdict = _metric_change(metric, a, b, th)
            if verdict:
                row = {"case_id": case, "project": repo, "status_a": sa, "status_b": sb, "a": a, "b": b,
                       "metric": metric, "change": (b - a) if metric == "graph_break_count" else b / a}
                (regress if verdict > 0 else improve).append(row)
    common = len(pairs)
    levels = [{"name": n, "label": predicates.LEVELS[n][0], "a": count_a[i], "b": count_b[i],
               "delta": count_b[i] - count_a[i],
               "pct_a": round(100 * count_a[i] / common, 2) if common else None,
               "pct_b": round(100 * count_b[i] / common, 2) if common else None} for i, n in enumerate(names)]
    errs_b = _errors(conn, run_b, [f[0] for f in failing + passing + flaky])
    errs_a = _errors(conn, run_a, [f[0] for f in failing + passing + flaky])

    def case_row(case: str, repo: str, sa: str, sb: str) -> dict[str, Any]:
        stage_b, etype_b, emsg_b = errs_b.get(case, (None, None, None))
        return {"case_id": case, "project": repo, "status_a": sa, "status_b": sb, "stage_b": stage_b,
                "error_type_b": etype_b, "error_msg_b": emsg_b, "error_type_a": errs_a.get(case, (None, None))[1]}

    order = lambda r: (r["metric"], r["case_id"])  # noqa: E731
    return Comparison(
        run_a=run_info(Scope(store, run_a)), run_b=run_info(Scope(store, run_b)), project=project, thresholds=th,
        common=common, only_a=total_a - common, only_b=total_b - common, levels=levels,
        transitions=[{"a": a, "b": b, "count": n} for (a, b), n in sorted(transitions.items())],
        newly_failing=[case_row(*f) for f in failing], newly_passing=[case_row(*f) for f in passing],
        metric_regressions=sorted(regress, key=order), metric_improvements=sorted(improve, key=order),
        flaky=[case_row(*f) for f in flaky], timing=timing)


def _metric_change(metric: str, a: Any, b: Any, th: Thresholds) -> int:
    """+1 for a regression beyond the thresholds, -1 for an improvement, 0 otherwise."""
    if a is None or b is None:
        return 0
    if metric in ("compile_s", "compile_cpu_s"):
        if a <= 0 or b <= 0:
            return 0
        if b >= a * th.compile_ratio and b - a >= th.min_compile_delta_s:
            return 1
        if a >= b * th.compile_ratio and a - b >= th.min_compile_delta_s:
            return -1
    elif metric == "speedup":
        if a <= 0 or b <= 0:
            return 0
        if b <= a * th.speedup_ratio:
            return 1
        if a <= b * th.speedup_ratio:
            return -1
    else:
        if b - a > th.break_delta:
            return 1
        if a - b > th.break_delta:
            return -1
    return 0
