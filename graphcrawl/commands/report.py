"""`graphcrawl report`: success rates of a run, `--compare A B` between two runs, `--history` of all runs."""
from __future__ import annotations

import argparse

from graphcrawl.errors import UserError
from graphcrawl.options import add_db_option, add_run_option, add_project_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="success rates, funnel, distributions; or compare two runs",
        description="Report on a run: the repo and case funnel, capture/compile/parity rates over runnable "
                    "and over all cases, compile-time/speedup/overhead distributions, top graph-break "
                    "reasons, and where cases come from. With --compare A B: what regressed between two "
                    "runs (exit code 1 if anything did, for CI).")
    add_db_option(p)
    add_run_option(p)
    add_project_option(p)
    p.add_argument("--by", choices=["project"], help="one row per project instead of the summary")
    p.add_argument("--sort", metavar="COLUMN[:asc|desc]",
                   help="sort --by project rows (default: cases, descending); e.g. pass_pct:asc")
    p.add_argument("--format", dest="fmt", choices=["table", "markdown", "csv", "json"], default="table",
                   help="output format (default: rich tables in the terminal)")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page with plots")
    p.add_argument("-o", "--output", metavar="FILE", help="write the output to FILE instead of stdout")
    p.add_argument("--top", type=int, default=15, help="rows in top-N lists (default 15)")
    p.add_argument("--rows", type=int, default=100,
                   help="--by project rows in the terminal table (default 100; 0 = all)")
    p.add_argument("--history", action="store_true",
                   help="every run in time order, by check: torch, pass and capture rates over the same cases, "
                        "compile-time median, cases that changed status since the previous run")
    p.add_argument("--serve-url", metavar="URL",
                   help="with --html: link the page into `graphcrawl serve` running at URL (e.g. http://127.0.0.1:8001)")
    cmp = p.add_argument_group("comparing two runs")
    cmp.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"),
                     help="compare run B against run A over the cases both have; exit 1 on regressions")
    cmp.add_argument("--compile-ratio", type=float, default=1.5,
                     help="compile time B/A at or above this is a regression (default 1.5)")
    cmp.add_argument("--min-compile-delta", type=float, default=1.0, metavar="SECONDS",
                     help="... and only when B is at least this many seconds slower (default 1.0)")
    cmp.add_argument("--speedup-ratio", type=float, default=0.8,
                     help="speedup B/A at or below this is a regression (default 0.8)")
    cmp.add_argument("--break-delta", type=int, default=0,
                     help="more than this many extra graph breaks is a regression (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from reports.api import ReportOptions, run_compare, run_history, run_report
    from reports.compare import Thresholds
    from reports.scope import ReportError

    try:
        if args.history:
            if args.compare or args.by or args.html or args.run:
                raise UserError("--history covers every run; --compare, --by, --html and --run do not apply "
                                "(the --html page has a history section)")
            return run_history(args.db, project=args.project, fmt=args.fmt, top=args.top, output=args.output)
        if args.serve_url and not args.html:
            raise UserError("--serve-url links the --html page into a served database; give --html FILE")
        if args.compare:
            if args.by or args.html or args.run:
                raise UserError("--compare takes its two runs as arguments; --by, --html and --run do not apply")
            return run_compare(args.db, args.compare[0], args.compare[1], project=args.project,
                               thresholds=Thresholds(compile_ratio=args.compile_ratio,
                                                     min_compile_delta_s=args.min_compile_delta,
                                                     speedup_ratio=args.speedup_ratio,
                                                     break_delta=args.break_delta),
                               fmt=args.fmt, top=args.top, output=args.output)
        return run_report(ReportOptions(db=args.db, run=args.run, project=args.project, by=args.by,
                                        sort=args.sort, fmt=args.fmt, top=args.top, html=args.html,
                                        rows=None if args.rows == 0 else args.rows,
                                        output=args.output, serve_url=args.serve_url))
    except ReportError as exc:
        raise UserError(str(exc)) from None
