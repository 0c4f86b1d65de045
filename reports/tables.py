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
    split = data.get("failure_split") or []
    if split:
        out.append(_table("Failures: compiler vs harness", ["kind", "cases", "share", "statuses"], [
            [s["kind"], num(s["count"]), pct(s["percent"]),
             ", ".join(f"{x['status']}{' @ ' + x['stage'] if x['stage'] else ''}"
                       f"{' (' + x['reason'] + ')' if x['reason'] else ''} {x['count']:,}" for x in s["statuses"])]
            for s in split], numeric=(1, 2),
            caption="compiler: capture/compile/run/parity and timeout/crash/oom there (Dynamo, AOTAutograd, "
                    "Inductor); harness: import/init/inputs/eager (graphcrawl or the project's code) · "
                    "graphcrawl triage --kind compiler"))
    conf = data.get("confirmation")
    if conf and conf["reruns"]:
        out.append(_table(
            f"Compiler failures confirmed by a rerun — {conf['reruns']:,} reran, {conf['confirmed']:,} confirmed, "
            f"{conf['flaky']:,} flaky", ["flaky case", "project", "first run", "rerun"],
            [[short(f["case_id"], 70), f["project"], f["first"], f["rerun"]] for f in conf["flaky_cases"]],
            caption=f"each compiler failure ran once more in a fresh process ({conf['rerun_s']:,.0f} s of reruns); "
                    "a flaky case is neither the compiler's failure nor a pass, and --compare never counts it · "
                    "graphcrawl triage --kind flaky"))
    rows = [[r["status"] + (f" @ {r['stage']}" if r["stage"] else "") + (f" ({r['reason']})" if r.get("reason") else ""),
             r.get("kind") or "", num(r["count"]), pct(r["percent"])]
            for r in data["case_funnel"]]
    caption = f"{data['pending']:,} cases of these projects have no result yet" if data["pending"] else None
    out.append(_table("Case funnel", ["status", "kind", "cases", "share"], rows, numeric=(2, 3), caption=caption))
    if data.get("case_reasons"):
        out.append(_table("Case funnel: reason classes (within their status)", ["status", "reason", "cases"], [
            [r["status"], r["label"], num(r["count"])] for r in data["case_reasons"]], numeric=(2,)))
    seen = data.get("repos_seen_not_selected") or 0
    title = ("Repo" if data["project"] else "Repo funnel (repos the crawls selected)"
             if data.get("repo_selection_recorded") else "Repo funnel (all repos in the database)")
    out.append(_table(title,
                      ["status", "repos", "share"],
                      [[r["status"], num(r["count"]), pct(r["percent"])] for r in data["repo_funnel"]],
                      numeric=(1, 2),
                      caption=(f"{seen:,} more repos were seen by discovery but not selected (beyond --limit); "
                               "kept for the next discovery, not counted" if seen else None)))
    out.append(_table("Distributions", ["metric", "n", "median", "p90", "geomean", "min", "max"], [
        [d["label"] + (f" ({d['unit']})" if d["unit"] else ""), num(d["n"]), num(d["median"]),
         num(d["p90"]), num(d["geomean"]), num(d["min"]), num(d["max"])]
        for d in data["distributions"].values()], numeric=range(1, 7),
        caption="geomean only where every value is > 0"))
    h = data.get("hook_overhead") or {}
    if h.get("cases"):
        out.append(_table("Frame-hook overhead (Dynamo's hook, backend eager, vs plain eager)",
                          ["", "median", "p10", "p90"], [
            ["overhead per call (µs)", num(h["overhead_us_median"]), num(h["overhead_us_p10"]), num(h["overhead_us_p90"])],
            ["ratio to eager (×)", num(h["ratio_median"]), num(h["ratio_p10"]), num(h["ratio_p90"])],
            ["95% interval half width (µs)", num(h["ci_half_us_median"]), "", num(h["ci_half_us_p90"])],
        ], numeric=(1, 2, 3), caption=(
            f"{h['cases']:,} cases, paired repeats of the thread's CPU time (median {num(h['samples_median'])} pairs); "
            f"noise: the overhead is resolved (95% interval excludes 0) in {h['resolved']:,} "
            f"({pct(h['resolved_pct'])}); eager itself takes a median {num(h['eager_us_median'])} µs per call"
            + (f" · {h['legacy_cases']:,} older results measured by wall-clock medians are left out"
               if h.get("legacy_cases") else ""))))
    if data["break_reasons"]:
        out.append(_table("Top graph-break reasons", ["reason", "ids", "cases", "breaks"], [
            [short(b["reason"], 80), ", ".join(b["ids"]), num(b["cases"]), num(b["breaks"])]
            for b in data["break_reasons"]], numeric=(2, 3)))
    if data["break_ids"]:
        out.append(_table("Top graph-break ids", ["id", "cases", "breaks"], [
            [b["id"], num(b["cases"]), num(b["breaks"])] for b in data["break_ids"]], numeric=(1, 2)))
    out += check_tables(data)
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
            caption=f"{dep['no_stub']:,} of {dep['runnable']:,} runnable cases ({pct(dep['no_stub_pct'])}) use no stub"
            + (f"; {dep['no_stub_used']:,} of {dep['use_known']:,} ({pct(dep['no_stub_used_pct'])}) touched none "
               f"once imported" if dep.get("use_known") else "")))
    if y["stubbed_packages"]:
        out.append(_table("Yield: stubbed packages (cases that loaded anyway)", ["package", "cases", "projects"], [
            [p["package"], num(p["cases"]), num(p["projects"])] for p in y["stubbed_packages"]], numeric=(1, 2)))
    return out


def check_tables(data: dict[str, Any]) -> list[Table]:
    """Checks side by side, where the time goes, recompiles and training (reports/checks.py)."""
    out = []
    if len(data.get("checks") or []) > 1:
        out.append(_table("Checks: inference, training, dynamic shapes, export, eager only", ["check", "run", "cases", "runnable", "pass",
                                                                          "pass % of runnable", "pass % of all"], [
            [c["check"], c["run"], num(c["cases"]), num(c["runnable"]),
             "eager only" if c["passed"] is None else num(c["passed"]),
             pct(c["pct_of_runnable"]), pct(c["pct_of_all"])] for c in data["checks"]], numeric=range(2, 7)))
    shares = data.get("time_shares") or {}
    if shares.get("all", {}).get("cases"):
        names = [s["stage"] for s in shares["all"]["stages"]]
        by = {k: {s["stage"]: s for s in v["stages"]} for k, v in shares.items()}
        out.append(_table("Where the time goes: share of worker wall by stage",
                          ["stage", "all cases", "s (all)", "passing cases", "s (pass)"], [
            [n, pct(100 * by["all"][n]["share"]), num(by["all"][n]["seconds"]),
             pct(100 * by["pass"][n]["share"]) if n in by["pass"] else "—",
             num(by["pass"][n]["seconds"]) if n in by["pass"] else "—"] for n in names],
            numeric=range(1, 5), caption=f"{shares['all']['cases']:,} cases, {num(shares['all']['wall_s'])} s; "
                                         f"{shares['pass']['cases']:,} passing, {num(shares['pass']['wall_s'])} s; "
                                         "other = fork, sandbox and transfer, outside any stage"))
    phases = data.get("compile_phases")
    if phases:
        cols = ["dynamo", "aot_autograd", "inductor", "cxx_build", "rest"]
        out.append(_table("Where compile time goes (torch's compile-time metrics), by Inductor cache state",
                          ["cache", "cases", "compile s", *cols], [
            [cache, num(p["cases"]), num(p["compile_s"]),
             *[f"{num(p[c])} ({pct(100 * p[c] / p['compile_s']) if p['compile_s'] else '—'})" for c in cols]]
            for cache, p in sorted(phases.items())], numeric=range(1, 8),
            caption="dynamo: bytecode to FX graph and guards; aot_autograd: functionalization, joint graph, "
                    "partition; inductor: lowering, scheduling, codegen; cxx_build: gcc; rest: the first "
                    "compiled call's own run and glue"))
    rc = data.get("recompiles")
    if rc:
        out.append(_table("Dynamic shapes: recompiles per case (automatic dynamism)", ["recompiles", "cases"],
                          [[b["recompiles"], num(b["count"])] for b in rc["buckets"]], numeric=(1,),
                          caption=f"{rc['sizes_tried']:,} new sizes run; {rc['sizes_rejected']:,} rejected by eager "
                                  "(not counted against the compiler)"))
        if rc["reasons"]:
            out.append(_table("Dynamic shapes: top recompile reasons (torch's guard failures)",
                              ["reason", "cases", "recompiles"],
                              [[short(r["reason"], 80), num(r["cases"]), num(r["recompiles"])] for r in rc["reasons"]],
                              numeric=(1, 2)))
        out.append(_table("Dynamic shapes: dynamic=True", ["outcome", "cases"],
                          [[d["outcome"], num(d["count"])] for d in rc["dynamic_true"]], numeric=(1,)))
    tr = data.get("training")
    if tr:
        bc = tr["backward_compile_s"]
        out.append(_table("Training: compiled backward graphs per case", ["backward graphs", "cases"],
                          [[g["graphs"], num(g["count"])] for g in tr["backward_graphs"]], numeric=(1,),
                          caption=f"backward compile time: median {num(bc['median'])} s, p90 {num(bc['p90'])} s "
                                  f"(n = {num(bc['n'])}); speedup in a training run is forward + backward"))
    out += export_tables(data.get("export"))
    return out


def export_tables(ex: dict[str, Any] | None) -> list[Table]:
    """Export runs (reports/checks.py export_section): why export fails, and where torch.compile does not."""
    if not ex:
        return []
    out = []
    ns, st = ex["classes"]["nonstrict"], ex["classes"]["strict"]
    names = list(dict.fromkeys([c["class"] for c in ns] + [c["class"] for c in st]))
    nsd, std = {c["class"]: c["count"] for c in ns}, {c["class"]: c["count"] for c in st}
    out.append(_table("Export: failure classes", ["class", "non-strict", "strict"],
                      [[n, num(nsd.get(n, 0)), num(std.get(n, 0))] for n in names], numeric=(1, 2),
                      caption=f"over {ex['runnable']:,} runnable cases; Dim.AUTO batch specialised by torch in "
                              f"{ex['dynamic_specialized']:,}"))
    if ex["frames"]:
        out.append(_table("Export: top torch frames of non-strict failures", ["class", "frame", "cases"],
                          [[f["class"], short(f["frame"], 80), num(f["count"])] for f in ex["frames"]], numeric=(2,)))
    gap = ex["compile_vs_export"]
    if gap.get("inference_run"):
        out.append(_table("Export: torch.compile captures, export cannot", ["why (export failure class)", "cases"],
                          [[c["class"], num(c["count"])] for c in gap["classes"]], numeric=(1,),
                          caption=f"{gap['export_cannot']:,} of {gap['runnable_in_both']:,} cases runnable in both "
                                  f"({pct(gap['pct_of_runnable'])}); torch.compile captured "
                                  f"{gap['compile_captures']:,} of them in {gap['inference_run']}"))
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
    if getattr(cmp, "flaky", None):
        t = cases("Flaky in either run (a failure its rerun did not repeat): neither regression nor fix",
                  cmp.flaky)
        out.append(t)
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
    timing = getattr(cmp, "timing", None) or {}
    if not timing.get("comparable", True):
        t.caption += (f" · NOT COMPARABLE ON TIME: {timing['why']}"
                      + (f"; {timing['skipped']:,} compile times not judged" if timing.get("skipped") else ""))
    out.append(t)
    out.append(metric("Metric improvements", cmp.metric_improvements))
    return out


def compare_verdict(cmp: Any) -> str:
    timing = getattr(cmp, "timing", None) or {}
    note = "" if timing.get("comparable", True) else " (runs not comparable on wall time: machine load differed)"
    return _verdict(cmp) + note


def _verdict(cmp: Any) -> str:
    if cmp.regressed:
        return (f"REGRESSED: {len(cmp.newly_failing):,} newly failing, "
                f"{len(cmp.metric_regressions):,} metric regressions")
    return (f"no regressions ({len(cmp.newly_passing):,} newly passing, "
            f"{len(cmp.metric_improvements):,} metric improvements)")


# -- triage -------------------------------------------------------------------

KIND_TITLES = {
    "compiler": "Compiler failures (capture, compile, run, parity: Dynamo, AOTAutograd, Inductor), "
                "each confirmed by a rerun",
    "flaky": "Flaky (a compiler-stage failure that its rerun in a fresh process did not repeat)",
    "harness": "Harness failures (import, init, inputs, eager: graphcrawl or the project's code)",
}


def triage_tables(clusters: list[Any], run_id: str, limit: int | None = 30) -> list[Table]:
    """One table per failure kind (compiler first), at most `limit` clusters each, and
    their example case ids (full, for `triage repro`)."""
    out: list[Table] = []
    shown_all: list[Any] = []
    kinds = [k for k in KIND_TITLES if any(c.kind == k for c in clusters)] or ["compiler"]
    for kind in kinds:
        members = [c for c in clusters if c.kind == kind]
        shown = members if limit is None else members[:limit]
        shown_all += shown
        total = sum(c.count for c in members)
        caption = (f"{total:,} failing cases in {len(members):,} clusters (run {run_id})"
                   + (f"; {len(members) - len(shown):,} smaller clusters not shown (--limit 0 for all)"
                      if len(shown) < len(members) else ""))
        rows = []
        for c in shown:
            s = c.signature
            rows.append([c.id, num(c.count), num(c.projects), s.status + (f" @ {s.stage}" if s.stage else ""),
                         short(f"{s.error_type or ''}: {s.message}".strip(": "), 110), s.frame or "",
                         s.break_id or ""])
        out.append(_table(KIND_TITLES[kind], ["cluster", "cases", "projects", "status @ stage",
                                              "error: message", "innermost torch frame", "break"],
                          rows, numeric=(1, 2), caption=caption))
    out.append(_table("Examples", ["cluster", "case"], [[c.id, e] for c in shown_all for e in c.examples],
                      caption="details: graphcrawl triage show CLUSTER · repro script: "
                              "graphcrawl triage repro CASE -o repro.py · only one kind: --kind compiler|flaky|harness"))
    return out


def break_tables(groups: list[Any], run_id: str, limit: int | None = 30) -> list[Table]:
    """Graph breaks by (id, reason), and a repro command for an example of each."""
    shown = groups if limit is None else groups[:limit]
    total = sum(g.cases for g in groups)
    caption = (f"{len(groups):,} distinct breaks over {total:,} case-breaks (run {run_id}); a case can pass "
               "with breaks" + (f"; {len(groups) - len(shown):,} more (--limit 0)" if len(shown) < len(groups) else ""))
    main = _table("Graph breaks by id and reason", ["id", "reason", "cases", "passing", "breaks", "projects",
                                                   "statuses"], [
        [g.id or "-", short(g.reason, 90), num(g.cases), num(g.passing), num(g.breaks), num(g.projects),
         ", ".join(f"{s} {n}" for s, n in g.statuses.items())] for g in shown],
        numeric=(2, 3, 4, 5), caption=caption)
    ex = _table("Examples", ["id", "case", "repro"], [
        [g.id or "-", e, f"graphcrawl triage repro '{e}' --run {run_id} -o repro.py"]
        for g in shown for e in g.examples[:2]])
    return [main, ex]


# -- history of runs (reports/history.py) ---------------------------------------

HISTORY_CAPTION = ("rates over the cases every run of the check has (same cases), pass and capture of those that "
                   "ran in eager; changed: status differs from the previous run of the check")


def history_tables(checks: list[dict[str, Any]], limit: int | None = 20) -> list[Table]:
    """One table per check (its runs in time order), then the cases that changed status."""
    out = []
    for h in checks:
        out.append(_table(
            f"History: {h['check']} ({len(h['runs'])} run{'s' if len(h['runs']) != 1 else ''}, "
            f"{h['same_cases']:,} same cases)",
            ["run", "started", "torch", "backend", "cases", "same cases", "runnable", "pass %", "capture %",
             "compile s (med)", "changed"],
            [[r["run"] + ("" if r["ended_at"] else " (unfinished)"), (r["started_at"] or "—")[:16].replace("T", " "),
              r["torch"] or "—", (r["backend"] or "—") + (" fullgraph" if r["fullgraph"] else ""), num(r["cases"]),
              num(r["same_cases"]), num(r["runnable"]), pct(r["pass_pct"]), pct(r["capture_pct"]),
              num(r["compile_median_s"]), num(r["changed"]) if r["previous"] else "—"] for r in h["runs"]],
            numeric=range(4, 11), caption=HISTORY_CAPTION))
    changes = [(h["check"], r, c) for h in checks for r in h["runs"] for c in r["changes"]]
    if changes:
        shown = changes if limit is None else changes[:limit]
        out.append(_table(
            "History: cases that changed status from the previous run of their check",
            ["check", "run", "previous", "case", "before", "after", "error"],
            [[check, r["run"], r["previous"], short(c["case_id"], 70), c["before"], c["after"],
              c["error_type"] or ""] for check, r, c in shown],
            caption=f"{len(changes) - len(shown):,} more (--top N, or --format json)" if len(shown) < len(changes)
            else None))
    return out
