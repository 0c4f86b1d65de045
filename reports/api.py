"""The report, compare and triage commands as library calls: open, compute, render.

Why here and not in graphcrawl/commands: the CLI only parses arguments
(STYLE: thin CLI over a library); everything a command does, including
which renderer a format picks, is callable and testable without argparse.
Each function writes to `out` and returns the process exit code.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from db import traces
from reports import csvout, markdown, projects as projects_mod, tables, terminal
from reports.compare import Comparison, Thresholds, compare_runs
from reports.html import render_html
from reports.repro import write_repro
from reports.scope import ReportError, Scope, open_scope, open_store, resolve_run
from reports.serve.links import run_links
from reports.summary import build_report, run_info
from reports.triage import cluster_cases, clusters, find_cluster

FORMATS = ("table", "markdown", "csv", "json")


def console_for(out: TextIO) -> Console:
    """A rich console on `out`; wide enough for the per-project table when not a terminal."""
    isatty = getattr(out, "isatty", lambda: False)()
    width = None if isatty else int(os.environ.get("COLUMNS") or 160)
    return Console(file=out, width=width, soft_wrap=False)


def _dumps(data: Any) -> str:
    """Indented JSON for people; one line per item past a few thousand values, because
    json's indenting encoder is pure Python and 100x slower than the compact one."""
    if sum(len(v) for v in data.values() if isinstance(v, list)) > 2000:
        head = {k: v for k, v in data.items() if not (isinstance(v, list) and len(v) > 200)}
        body = json.dumps(head, indent=2)[:-2]
        for k, v in data.items():
            if k not in head:
                body += f',\n  "{k}": [\n' + ",\n".join("    " + json.dumps(x) for x in v) + "\n  ]"
        return body + "\n}"
    return json.dumps(data, indent=2)


def _emit(text: str, out: TextIO, path: str | Path | None) -> None:
    if path:
        Path(path).write_text(text)
    else:
        out.write(text if text.endswith("\n") else text + "\n")


@dataclass
class ReportOptions:
    db: str | Path
    run: str | None = None
    project: str | None = None
    by: str | None = None            # None or "project"
    sort: str | None = None
    fmt: str = "table"
    top: int = 15
    rows: int | None = 100           # per-project rows in the terminal (None: all)
    html: str | Path | None = None
    output: str | Path | None = None
    serve_url: str | None = None     # --html: link into `graphcrawl serve` at this URL


def run_report(opts: ReportOptions, out: TextIO | None = None) -> int:
    """`graphcrawl report`: the run's funnel, rates, distributions, breaks and yield."""
    out = out or sys.stdout
    if opts.fmt not in FORMATS:
        raise ReportError(f"unknown format {opts.fmt!r}; one of {', '.join(FORMATS)}")
    if opts.by not in (None, "project"):
        raise ReportError(f"--by takes 'project', not {opts.by!r}")
    if opts.by == "project" and not opts.html:
        with open_scope(opts.db, opts.run, opts.project) as scope:   # only what the table needs
            run, rows = run_info(scope), projects_mod.sort_rows(projects_mod.project_rows(scope), opts.sort)
        _project_output(run, rows, opts, out)
        return 0
    with open_scope(opts.db, opts.run, opts.project) as scope:
        report = build_report(scope, top=opts.top)
        page_history = _page_history(scope) if opts.html else None
    data = report.as_dict()
    rows = projects_mod.sort_rows(data["projects"], opts.sort)
    if opts.html:
        served = run_links(opts.serve_url, opts.db, data["run"]["id"]) if opts.serve_url else None
        Path(opts.html).write_text(render_html(dict(data, history=page_history, served=served)))
        if opts.fmt == "table" and not opts.by and not opts.output:
            console_for(out).print(f"wrote {opts.html} ({data['cases']:,} cases, run {data['run']['id']})")
            return 0
    if opts.by == "project":
        _project_output(data["run"], rows, opts, out)
        return 0
    if opts.fmt == "json":
        _emit(_dumps(dict(data, projects=rows)), out, opts.output)
    elif opts.fmt == "csv":
        _emit(csvout.report_csv(data), out, opts.output)
    else:
        _render_tables(tables.report_tables(data), opts, out,
                       title=f"graphcrawl report — {tables.run_title(data['run'], data['project'])}")
    return 0


HTML_CHANGES = 50   # changed cases per run embedded in the HTML page (the counts are all there)


def _page_history(scope: Scope) -> list[dict[str, Any]]:
    """The history section of the HTML page: every run of the database (in the scope's project)."""
    from reports.history import history
    checks = [h.as_dict() for h in history(scope.store, scope.project)]
    for h in checks:
        for r in h["runs"]:
            r["changes"] = r["changes"][:HTML_CHANGES]
    return checks


def _project_output(run: dict[str, Any], rows: list[dict[str, Any]], opts: ReportOptions, out: TextIO) -> None:
    if opts.fmt == "json":
        _emit(_dumps({"run": run, "projects": rows}), out, opts.output)
    elif opts.fmt == "csv":
        _emit(csvout.write_rows(projects_mod.COLUMNS, rows), out, opts.output)
    else:
        # rich lays out every cell of a table before printing: thousands of rows take seconds.
        limit = opts.rows if opts.fmt == "table" else None
        table = tables.project_table(rows, title=f"Per project — {tables.run_title(run, opts.project)}", limit=limit)
        _render_tables([table], opts, out)


def _render_tables(items: list[tables.Table], opts: ReportOptions, out: TextIO, title: str | None = None) -> None:
    if opts.fmt == "markdown":
        _emit(markdown.to_markdown(items, title), out, opts.output)
    elif opts.output:
        with open(opts.output, "w") as fh:
            terminal.print_tables(items, console_for(fh))
    else:
        terminal.print_tables(items, console_for(out))


def run_compare(db: str | Path, run_a: str, run_b: str, project: str | None = None,
                thresholds: Thresholds | None = None, fmt: str = "table", top: int = 20,
                output: str | Path | None = None, out: TextIO | None = None) -> int:
    """`graphcrawl report --compare A B`: exit 1 when anything regressed (a CI gate)."""
    out = out or sys.stdout
    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    with open_store(db) as store:
        cmp = compare_runs(store, run_a, run_b, project, thresholds)
    if fmt == "json":
        _emit(json.dumps(cmp.as_dict(), indent=2), out, output)
    elif fmt == "csv":
        _emit(compare_csv(cmp), out, output)
    else:
        items = tables.compare_tables(cmp, limit=top)
        verdict = tables.compare_verdict(cmp)
        if fmt == "markdown":
            _emit(markdown.to_markdown(items, f"graphcrawl compare: {verdict}"), out, output)
        else:
            def show(console: Console) -> None:
                terminal.print_tables(items, console)
                console.print(f"[bold {'red' if cmp.regressed else 'green'}]{verdict}[/]")
            if output:
                with open(output, "w") as fh:
                    show(console_for(fh))
            else:
                show(console_for(out))
    return 1 if cmp.regressed else 0


HISTORY_CSV_COLUMNS = ["check", "run", "started_at", "ended_at", "torch", "backend", "device", "fullgraph", "cases",
                       "same_cases", "runnable", "captured", "passed", "capture_pct", "pass_pct", "pass_pct_of_all",
                       "compile_median_s", "compile_n", "previous", "changed"]


def run_history(db: str | Path, project: str | None = None, fmt: str = "table", top: int | None = 20,
                output: str | Path | None = None, out: TextIO | None = None) -> int:
    """`graphcrawl report --history`: every run in time order, by check, rated over the same cases."""
    from reports.history import history
    out = out or sys.stdout
    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    with open_store(db) as store:
        if not store.runs():
            raise ReportError(f"{store.path}: no runs yet (run `graphcrawl crawl` first)")
        checks = [h.as_dict() for h in history(store, project)]
    if fmt == "json":
        _emit(json.dumps({"project": project, "checks": checks}, indent=2), out, output)
    elif fmt == "csv":
        _emit(csvout.write_rows(HISTORY_CSV_COLUMNS, [r for h in checks for r in h["runs"]]), out, output)
    else:
        _render_tables(tables.history_tables(checks, top), ReportOptions(db=db, fmt=fmt, output=output), out,
                       title="graphcrawl history" + (f" — project {project}" if project else ""))
    return 0


COMPARE_CSV_COLUMNS = ["kind", "case_id", "project", "status_a", "status_b", "metric", "a", "b", "change",
                       "error_type_b", "error_msg_b"]


def compare_csv(cmp: Comparison) -> str:
    """One row per changed case: newly_failing, newly_passing, metric_regression, metric_improvement."""
    rows: list[dict[str, Any]] = []
    for kind, items in (("newly_failing", cmp.newly_failing), ("newly_passing", cmp.newly_passing),
                        ("metric_regression", cmp.metric_regressions),
                        ("metric_improvement", cmp.metric_improvements)):
        rows += [dict(r, kind=kind) for r in items]
    return csvout.write_rows(COMPARE_CSV_COLUMNS, rows)


TRIAGE_CSV_COLUMNS = ["id", "kind", "count", "projects", "status", "stage", "error_type", "message", "frame", "break_id",
                      "examples", "example_msg"]


def run_triage(db: str | Path, run: str | None = None, project: str | None = None, fmt: str = "table",
               limit: int | None = 30, output: str | Path | None = None, out: TextIO | None = None,
               kind: str | None = None, statuses: list[str] | None = None,
               stages: list[str] | None = None) -> int:
    """`graphcrawl triage`: failure clusters, compiler failures first, then flaky ones, then the
    harness's, each kind largest first."""
    out = out or sys.stdout
    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    with open_scope(db, run, project) as scope:
        found = clusters(scope, kind, statuses, stages)
        run_id = scope.run_id
    shown = [c for k in ("compiler", "flaky", "harness") for c in
             [c for c in found if c.kind == k][:limit if limit is not None else None]]
    if fmt == "json":
        by_kind = {k: sum(c.count for c in found if c.kind == k) for k in ("compiler", "flaky", "harness")}
        _emit(json.dumps({"run": run_id, "project": project, "failures": sum(c.count for c in found),
                          "by_kind": by_kind, "clusters": [c.as_dict() for c in shown]}, indent=2), out, output)
    elif fmt == "csv":
        _emit(csvout.write_rows(TRIAGE_CSV_COLUMNS, [c.as_dict() for c in shown]), out, output)
    else:
        _render_tables(tables.triage_tables(found, run_id, limit), ReportOptions(db=db, fmt=fmt, output=output), out)
    return 0


def run_triage_show(db: str | Path, cluster: str, run: str | None = None, project: str | None = None,
                    fmt: str = "table", limit: int | None = 20, out: TextIO | None = None) -> int:
    """`graphcrawl triage show CLUSTER`: the cluster's cases with full errors and tracebacks."""
    out = out or sys.stdout
    with open_scope(db, run, project) as scope:
        c = find_cluster(scope, cluster)
        cases = cluster_cases(scope, c, limit)
        run_id = scope.run_id
    if fmt == "json":
        _emit(json.dumps({"run": run_id, "cluster": c.as_dict(with_cases=True), "cases": cases}, indent=2), out, None)
        return 0
    s = c.signature
    lines = [f"cluster {c.id}: {c.count:,} cases in {c.projects:,} projects (run {run_id})",
             f"  status  {s.status}" + (f" @ {s.stage}" if s.stage else ""),
             f"  error   {s.error_type}", f"  message {s.message}",
             f"  frame   {s.frame or '-'}", f"  break   {s.break_id or '-'}"]
    if s.export_class:
        lines.append(f"  export  failure class {s.export_class}")
    lines.append("")
    for i, r in enumerate(cases, 1):
        lines += [f"── [{i}/{c.count}] {r['case_id']}",
                  f"   {r['repo_id']} @ {(r['sha'] or '')[:12]}  {r['path']}:{r['qualname']}",
                  f"   {r['status']} @ {r['stage']}: {r['error_type']}: {r['error_msg'] or ''}"]
        if r.get("signal"):
            lines.append(f"   signal {r['signal']}")
        if r.get("rerun"):
            again = json.loads(r["rerun"])
            lines.append(f"   rerun in a fresh process: {again.get('status')} @ {again.get('stage')}: "
                         f"{again.get('error_type') or ''}"
                         + ("  -> FLAKY (not repeated)" if r.get("flaky") else "  -> confirmed"))
        lines += draft_report_lines(r)
        if r.get("traceback"):
            lines += ["   " + t for t in r["traceback"].rstrip().splitlines()]
        trace, logs = traces.resolve(db, r.get("trace_path"))
        if trace:
            lines.append(f"   torch trace: {trace}" + (f"  (graph-break/recompile log: {logs})" if logs else ""))
            lines.append(f"   render it:  graphcrawl triage trace '{r['case_id']}' --run {run_id}"
                         + ("" if tlparse_path() else "   (needs tlparse: pip install tlparse)"))
        lines += [f"   repro: graphcrawl triage repro '{r['case_id']}' --run {run_id} -o repro.py", ""]
    if limit is not None and c.count > limit:
        lines.append(f"{c.count - limit:,} more cases: --limit 0 for all")
    if fmt == "markdown":
        _emit("```\n" + "\n".join(lines) + "\n```", out, None)
    else:
        out.write("\n".join(lines) + "\n")
    return 0


def draft_report_lines(r: dict[str, Any]) -> list[str]:
    """An export case's strict outcome and torch.export.draft_export's report, for `triage show`."""
    if r.get("export_strict") is None and not r.get("draft_report"):
        return []
    lines = [f"   export: non-strict {r.get('export_class') or 'ok'}, strict {r.get('export_strict') or '-'}"]
    try:
        draft = json.loads(r["draft_report"]) if r.get("draft_report") else None
    except ValueError:
        draft = None
    if isinstance(draft, dict):
        if not draft.get("ok"):
            lines.append(f"   draft_export failed too: {draft.get('error')}")
        else:
            lines.append(f"   draft_export: {draft.get('count', len(draft.get('failures') or []))} issue(s)")
            for f in draft.get("failures") or []:
                lines.append(f"     - {f.get('type')}: {f.get('what')}" + (f"  at {f['where']}" if f.get("where") else ""))
    return lines


def run_triage_repro(db: str | Path, case_id: str, output: str | Path, run: str | None = None,
                     minify: bool = False, out: TextIO | None = None) -> int:
    """`graphcrawl triage repro CASE -o FILE`: write a standalone repro script."""
    out = out or sys.stdout
    with open_store(db) as store:
        data = write_repro(store, case_id, output, run, minify)
    rec = data["recorded"]
    out.write(f"wrote {output}: {data['case']['repo']} {data['case']['path']}:{data['case']['qualname']} "
              f"({rec['status']} at {rec['stage']}: {rec['error_type']}, cluster {rec['cluster']})\n"
              f"run it: python {output} [CHECKOUT_DIR] [--ladder] [--minify]\n")
    return 0


def tlparse_path() -> str | None:
    """The tlparse executable (renders torch structured traces to HTML), if installed."""
    import shutil
    return shutil.which("tlparse")


def run_triage_trace(db: str | Path, case_id: str, run: str | None = None, output: str | Path | None = None,
                     out: TextIO | None = None) -> int:
    """`graphcrawl triage trace CASE`: the case's stored torch trace, rendered to HTML by tlparse."""
    import subprocess
    out = out or sys.stdout
    with open_store(db) as store:
        run_id = resolve_run(store, run)
        row = store.db.conn.execute("select * from results where run_id = ? and case_id = ?",
                                    [run_id, case_id]).fetchone()
        if row is None:
            raise ReportError(f"case {case_id!r} has no result in run {run_id!r}")
        trace_path = dict(row).get("trace_path")
    trace, logs = traces.resolve(db, trace_path)
    if trace is None:
        raise ReportError(f"case {case_id!r} has no stored torch trace in run {run_id!r} (traces are kept for "
                          "compiler failures of runs made since graphcrawl kept them)")
    exe = tlparse_path()
    if exe is None:
        out.write(f"trace: {trace}\n" + (f"graph-break/recompile log: {logs}\n" if logs else "")
                  + "tlparse is not installed (pip install tlparse); the trace is a plain text file\n")
        return 0
    dest = Path(output) if output else trace.with_suffix("")
    proc = subprocess.run([exe, str(trace), "-o", str(dest), "--overwrite", "--no-browser"],
                          capture_output=True, text=True, timeout=600)
    index = dest / "index.html"
    if proc.returncode != 0 or not index.exists():
        raise ReportError(f"tlparse failed on {trace}: {(proc.stderr or proc.stdout).strip()[-500:]}")
    out.write(f"trace: {trace}\nrendered: {index}\n" + (f"graph-break/recompile log: {logs}\n" if logs else ""))
    return 0


def run_triage_breaks(db: str | Path, run: str | None = None, project: str | None = None, fmt: str = "table",
                      limit: int | None = 30, output: str | Path | None = None, out: TextIO | None = None) -> int:
    """`graphcrawl triage breaks`: graph breaks by id and reason, passing and failing cases alike."""
    from reports.breaks import break_groups
    out = out or sys.stdout
    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    with open_scope(db, run, project) as scope:
        groups = break_groups(scope)
        run_id = scope.run_id
    shown = groups if limit is None else groups[:limit]
    if fmt == "json":
        _emit(json.dumps({"run": run_id, "project": project, "groups": [g.as_dict() for g in shown],
                          "total_groups": len(groups)}, indent=2), out, output)
    elif fmt == "csv":
        rows = [dict(g.as_dict(), statuses=json.dumps(g.statuses), examples=" ".join(g.examples)) for g in shown]
        _emit(csvout.write_rows(["id", "reason", "cases", "passing", "breaks", "projects", "statuses", "examples",
                                 "example_reason"], rows), out, output)
    else:
        _render_tables(tables.break_tables(groups, run_id, limit), ReportOptions(db=db, fmt=fmt, output=output), out)
    return 0
