"""`graphcrawl triage`: failure clusters; `triage show CLUSTER`; `triage repro CASE -o FILE`."""
from __future__ import annotations

import argparse

from graphcrawl.errors import UserError
from graphcrawl.options import add_db_option, add_run_option, add_project_option


def _scope_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    """--db, --run, --project; on the sub-actions without defaults, so that
    `triage --db X show C` and `triage show C --db X` both work."""
    if suppress:
        p.add_argument("--db", default=argparse.SUPPRESS, help="SQLite database file (default: ./graphcrawl.db)")
        p.add_argument("--run", default=argparse.SUPPRESS, help="run name (default: the latest run)")
        p.add_argument("--project", default=argparse.SUPPRESS, metavar="OWNER/NAME", help="only this project")
    else:
        add_db_option(p)
        add_run_option(p)
        add_project_option(p)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "triage", help="failures clustered by signature, with repro scripts",
        description="Group a run's failures by signature (status, stage, exception type, normalized "
                    "message, innermost torch frame, first graph-break id), largest first. "
                    "`triage show CLUSTER` lists a cluster's cases with full errors; "
                    "`triage repro CASE -o repro.py` writes a standalone repro script.")
    _scope_options(p, suppress=False)
    p.add_argument("--format", dest="fmt", choices=["table", "markdown", "csv", "json"], default="table")
    p.add_argument("--limit", type=int, default=30, help="clusters shown (default 30; 0 = all)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the output to FILE instead of stdout")
    p.add_argument("--kind", choices=["compiler", "flaky", "harness", "all"], default="all",
                   help="compiler: capture/compile/run/parity (and timeout/crash/oom there), confirmed by a "
                        "rerun; flaky: such a failure the rerun did not repeat; harness: "
                        "import/init/inputs/eager; all (default): both, compiler failures first")
    p.add_argument("--status", action="append", default=[], metavar="STATUS",
                   help="only these statuses (repeatable or comma-separated), e.g. compile_failed,timeout")
    p.add_argument("--stage", action="append", default=[], metavar="STAGE",
                   help="only results that ended at these stages (repeatable or comma-separated)")
    actions = p.add_subparsers(dest="action", metavar="{show,repro,trace,breaks}")
    show = actions.add_parser("show", help="a cluster's cases with full errors and tracebacks")
    show.add_argument("cluster", help="cluster id (or a unique prefix of it)")
    _scope_options(show, suppress=True)
    show.add_argument("--limit", type=int, default=20, help="cases shown (default 20; 0 = all)")
    show.add_argument("--format", dest="fmt", choices=["table", "markdown", "json"], default=argparse.SUPPRESS)
    repro = actions.add_parser("repro", help="write a standalone script that reproduces one case")
    repro.add_argument("case", help="case id (as listed by `triage` and `triage show`)")
    repro.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the script")
    repro.add_argument("--minify", action="store_true",
                       help="the script runs torch's minifier (TORCHDYNAMO_REPRO_AFTER=aot) on the failure")
    _scope_options(repro, suppress=True)
    trace = actions.add_parser("trace", help="render a case's stored torch trace to HTML with tlparse")
    trace.add_argument("case", help="case id (as listed by `triage show`)")
    trace.add_argument("-o", "--output", metavar="DIR", help="output directory (default: next to the trace)")
    _scope_options(trace, suppress=True)
    breaks = actions.add_parser("breaks", help="graph breaks by id and reason, passing and failing cases alike")
    _scope_options(breaks, suppress=True)
    breaks.add_argument("--format", dest="fmt", choices=["table", "markdown", "csv", "json"], default=argparse.SUPPRESS)
    breaks.add_argument("--limit", type=int, default=argparse.SUPPRESS, help="groups shown (default 30; 0 = all)")
    p.set_defaults(func=run, action=None)


def run(args: argparse.Namespace) -> int:
    from reports.api import run_triage, run_triage_repro, run_triage_show, run_triage_trace, run_triage_breaks
    from reports.scope import ReportError

    limit = None if args.limit == 0 else args.limit
    try:
        if args.action == "show":
            return run_triage_show(args.db, args.cluster, run=args.run, project=args.project,
                                   fmt=args.fmt, limit=limit)
        if args.action == "breaks":
            return run_triage_breaks(args.db, run=args.run, project=args.project, fmt=args.fmt, limit=limit,
                                     output=args.output)
        if args.action == "trace":
            return run_triage_trace(args.db, args.case, run=args.run, output=args.output)
        if args.action == "repro":
            return run_triage_repro(args.db, args.case, args.output, run=args.run, minify=args.minify)
        return run_triage(args.db, run=args.run, project=args.project, fmt=args.fmt, limit=limit,
                          output=args.output, kind=args.kind, statuses=_split(args.status),
                          stages=_split(args.stage))
    except ReportError as exc:
        raise UserError(str(exc)) from None


def _split(values: list[str]) -> list[str] | None:
    """`--status a,b --status c` -> [a, b, c]; None when not given."""
    out = [v.strip() for item in values for v in item.split(",") if v.strip()]
    return out or None
