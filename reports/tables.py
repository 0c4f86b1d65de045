"""Reports as titled tables of formatted cells, for the terminal and markdown.

Why an intermediate form: the rich terminal renderer and the markdown
renderer show exactly the same tables; building the cells once means a new
column appears in both, and the renderers stay a few lines each.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from reports import projects as projects_mod


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)   # column indexes aligned right
    caption: str | None = None


def num(value: Any, digits: int = 3) -> str:
    """A compact number: integers as is, floats to `digits` significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value == 0:
            return "0"
        if abs(value) >= 10 ** digits:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def short(text: Any, width: int = 90) -> str:
    s = "" if text is None else str(text).replace("\n", " ")
    return s if len(s) <= width else s[: width - 1] + "…"


def _table(title: str, columns: Sequence[str], rows: list[list[str]], numeric: Sequence[int] = (),
           caption: str | None = None) -> Table:
    return Table(title, list(columns), rows, set(numeric), caption)


# -- run report ---------------------------------------------------------------

DEFINITIONS = ("runnable = got past eager (incl. a later timeout/crash/oom); captured = got past capture; "
               "parity = pass, or eager_nondeterministic within tolerance; overall pass = status pass")

def run_title(run: dict[str, Any], project: str | None) -> str:
    bits = [f"run {run.get('id')}"]
    for key in ("torch", "device", "backend", "mode"):
        if run.get(key):
            bits.append(f"{key} {run[key]}")
    if run.get("fullgraph"):
        bits.append("fullgraph")
    if project:
        bits.append(f"project {project}")
    return " · ".join(bits)


def report_tables(data: dict[str, Any]) -> list[Table]:
    """The tables of `Report.as_dict()` (everything but the per-project table)."""
    out = []
    total = data["cases"]
    rates = data["rates"]
    runnable = rates[0]["runnable"] if rates else 0
    out.append(_table(
        f"Success rates — {total:,} cases, {runnable:,} run in eager", ["", "cases", "of runnable", "of all"],
        [[r["label"], num(r["count"]), pct(r["pct_of_runnable"]), pct(r["pct_of_all"])] for r in rates],
        numeric=(1, 2, 3), caption=run_title(data["run"], data["project"]) + " · " + DEFINITIONS))
    rows = [[r["status"] + (f" @ {r['stage']}" if r["stage"] else ""), num(r["count"]), pct(r["percent"])]
            for r in data["case_funnel"]]
    caption = f"{data['pending']:,} cases of these projects have no result yet" if data["pending"] else None
    out.append(_table("Case funnel", ["status", "cases", "share"], rows, numeric=(1, 2), caption=caption))
    if data.get("case_reasons"):
        out.append(_table("Case funnel: reason classes (within their status)", ["status", "reason", "cases"], [
            [r["status"], r["label"], num(r["count"])] for r in data["case_reasons"]], numeric=(2,)))
    out.append(_table("Repo funnel (all repos in the database)" if not data["project"] else "Repo",
                      ["status", "repos", "share"],
                      [[r["status"], num(r["count"]), pct(r["percent"])] for r in data["repo_funnel"]],
                      numeric=(1, 2)))
    out.append(_table("Distributions", ["metric", "n", "median", "p90", "geomean", "min", "max"], [
        [d["label"] + (f" ({d['unit']})" if d["unit"] else ""), num(d["n"]), num(d["median"]),
         num(d["p90"]), num(d["geomean"]), num(d["min"]), num(d["max"])]
        for d in data["distributions"].values()], numeric=range(1, 7),
        caption="geomean only where every value is > 0"))
    if data["break_reasons"]:
        out.append(_table("Top graph-break reasons", ["reason", "ids", "cases", "breaks"], [
            [short(b["reason"], 80), ", ".join(b["ids"]), num(b["cases"]), num(b["breaks"])]
            for b in data["break_reasons"]], numeric=(2, 3)))
    if data["break_ids"]:
        out.append(_table("Top graph-break ids", ["id", "cases", "breaks"], [
            [b["id"], num(b["cases"]), num(b["breaks"])] for b in data["break_ids"]], numeric=(1, 2)))
    y = data["yield"]
    fb = y["found_by"]
    out.append(_table(
        "Yield: how specs were found", ["rule", "cases", "passed"],
        [[r["rule"], num(r["cases"]), num(r["passed"])] for r in fb["rules"]], numeric=(1, 2),
        caption=f"{fb['with_spec']:,} of {fb['cases']:,} cases have a stored spec (args and inputs)"))
    if y["missing_packages"]:
        out.append(_table("Yield: import failures by missing package", ["package", "cases", "projects"], [
            [p["package"], num(p["cases"]), num(p["projects"])] for p in y["missing_packages"]], numeric=(1, 2)))
    if y["import_error_types"]:
        out.append(_table("Yield: import failures by error type", ["error type", "cases", "projects"], [
            [p["error_type"], num(p["cases"]), num(p["projects"])] for p in y["import_error_types"]],
            numeric=(1, 2)))
    dep = y.get("runnable_stubs")
    if dep and dep["runnable"]:
        out.append(_table("Yield: stubs the runnable cases still depend on", ["stub", "runnable cases", "projects"], [
            [p["package"], num(p["cases"]), num(p["projects"])] for p in dep["stubs"]], numeric=(1, 2),
            caption=f"{dep['no_stub']:,} of {dep['runnable']:,} runnable cases ({pct(dep['no_stub_pct'])}) use no stub"))
    if y["stubbed_packages"]:
        out.append(_table("Yield: stubbed packages (cases that loaded anyway)", ["package", "cases", "projects"], [
            [p["package"], num(p["cases"]), num(p["projects"])] for p in y["stubbed_packages"]], numeric=(1, 2)))
    return out


PROJECT_HEADERS = {
    "project": "project", "stars": "stars", "cases": "cases", "eager": "eager", "captured": "captured",
    "full_graph": "full graph", "compiled": "compiled", "parity": "parity", "passed": "pass",
    "capture_pct": "capture %", "pass_pct": "pass %", "pass_of_eager_pct": "pass % of eager",
    "graph_breaks": "breaks", "compile_s_median": "compile s (med)", "speedup_median": "speedup (med)",
}


def project_table(rows: list[dict[str, Any]], title: str = "Per project", limit: int | None = None) -> Table:
    cols = projects_mod.COLUMNS
    shown = rows if limit is None else rows[:limit]
    body = [[(pct(r[c]) if c.endswith("_pct") else num(r[c])) for c in cols] for r in shown]
    caption = (f"{len(rows) - len(shown):,} more not shown (--rows 0 for all, or --format csv/markdown/json)"
               if len(shown) < len(rows) else None)
    return _table(title, [PROJECT_HEADERS[c] for c in cols], body, numeric=range(1, len(cols)), caption=caption)


# -- run comparison -----------------------------------------------------------

def compare_tables(cmp: Any, limit: int | None = 20) -> list[Table]:
    """Tables for a `reports.compare.Comparison`."""
    a, b = cmp.run_a["id"], cmp.run_b["id"]
    out = []
    caption = (f"{cmp.common:,} cases in both runs; {cmp.only_a:,} only in {a}, {cmp.only_b:,} only in {b}"
               + (f" · project {cmp.project}" if cmp.project else ""))
    out.append(_table(f"Compare {a} → {b}", ["", a, b, "change", f"% {a}", f"% {b}"], [
        [lv["label"], num(lv["a"]), num(lv["b"]), f"{lv['delta']:+,}", pct(lv["pct_a"]), pct(lv["pct_b"])]
        for lv in cmp.levels], numeric=range(1, 6), caption=caption))

    def cases(title: str, rows: list[dict[str, Any]]) -> Table:
        shown = rows if limit is None else rows[:limit]
        more = f"{len(rows) - len(shown):,} more (use --format json for all)" if len(shown) < len(rows) else None
        return _table(f"{title}: {len(rows):,}", ["case", f"status in {a}", f"status in {b}", f"error in {b}"], [
            [short(r["case_id"], 70), r["status_a"], r["status_b"] + (f" @ {r['stage_b']}" if r["stage_b"] and r["status_b"] in ("timeout", "crash", "oom") else ""),
             short(f"{r['error_type_b'] or ''}: {r['error_msg_b'] or ''}".strip(": "), 80)] for r in shown], caption=more)

    out.append(cases("Newly failing (pass before, not now)", cmp.newly_failing))
    out.append(cases("Newly passing", cmp.newly_passing))
    rows_a, cols_b, cells = cmp.matrix()
    out.append(_table(f"Status transitions (rows: {a}, columns: {b})", [f"{a} \\ {b}", *cols_b, "total"], [
        [sa, *[num(cells.get((sa, sb), 0)) if cells.get((sa, sb)) else "·" for sb in cols_b],
         num(sum(cells.get((sa, sb), 0) for sb in cols_b))] for sa in rows_a],
        numeric=range(1, len(cols_b) + 2)))
    th = cmp.thresholds

    def metric(title: str, rows: list[dict[str, Any]]) -> Table:
        shown = rows if limit is None else rows[:limit]
        more = f"{len(rows) - len(shown):,} more (use --format json for all)" if len(shown) < len(rows) else None
        return _table(f"{title}: {len(rows):,}", ["case", "metric", a, b, "change"], [
            [short(r["case_id"], 70), r["metric"], num(r["a"]), num(r["b"]),
             f"{r['change']:+d}" if r["metric"] == "graph_break_count" else f"×{r['change']:.2f}"]
            for r in shown], numeric=(2, 3, 4), caption=more)

    t = metric("Metric regressions", cmp.metric_regressions)
    t.caption = (t.caption + " · " if t.caption else "") + (
        f"compile time ×{th.compile_ratio:g} and +{th.min_compile_delta_s:g} s, speedup ×{th.speedup_ratio:g}, "
        f"graph breaks +{th.break_delta + 1} or more")
    out.append(t)
    out.append(metric("Metric improvements", cmp.metric_improvements))
    return out


def compare_verdict(cmp: Any) -> str:
    if cmp.regressed:
        return (f"REGRESSED: {len(cmp.newly_failing):,} newly failing, "
                f"{len(cmp.metric_regressions):,} metric regressions")
    return (f"no regressions ({len(cmp.newly_passing):,} newly passing, "
            f"{len(cmp.metric_improvements):,} metric improvements)")


# -- triage -------------------------------------------------------------------

def triage_tables(clusters: list[Any], run_id: str, limit: int | None = 30) -> list[Table]:
    """The clusters, and their example case ids (full, for `triage repro`), as two tables."""
    shown = clusters if limit is None else clusters[:limit]
    total = sum(c.count for c in clusters)
    caption = (f"{total:,} failing cases in {len(clusters):,} clusters (run {run_id})"
               + (f"; {len(clusters) - len(shown):,} smaller clusters not shown (--limit 0 for all)"
                  if len(shown) < len(clusters) else ""))
    rows = []
    for c in shown:
        s = c.signature
        rows.append([c.id, num(c.count), num(c.projects), s.status + (f" @ {s.stage}" if s.stage else ""),
                     short(f"{s.error_type or ''}: {s.message}".strip(": "), 110), s.frame or "", s.break_id or ""])
    clusters_t = _table("Failure clusters", ["cluster", "cases", "projects", "status @ stage", "error: message",
                                             "innermost torch frame", "break"], rows, numeric=(1, 2), caption=caption)
    examples = _table("Examples", ["cluster", "case"], [[c.id, e] for c in shown for e in c.examples],
                      caption="details: graphcrawl triage show CLUSTER · repro script: "
                              "graphcrawl triage repro CASE -o repro.py")
    return [clusters_t, examples]
