"""`graphcrawl serve`: browse and query the database in a browser (Datasette), read-only."""
from __future__ import annotations

import argparse

from graphcrawl.options import add_db_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="browse and query the database in a browser (Datasette), read-only",
        description="Serve the database with Datasette: every table with its columns documented and "
                    "facets (status, stage, failure kind, reason, project), and canned queries: success "
                    "rates by run and by project, failures by triage cluster, graph breaks, two runs "
                    "compared, slowest compiles, stubs runnable cases depend on. Read-only; a database a "
                    "crawl is writing can be served at the same time (WAL). Needs the serve extra: "
                    "pip install 'graphcrawl[serve]'.")
    add_db_option(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8001, help="port (default 8001; 0 picks a free one)")
    p.add_argument("--immutable", action="store_true",
                   help="the file will not change (a finished crawl): counts are cached; refused while a "
                        "crawl writes to it")
    p.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    from reports.serve.server import serve

    return serve(args.db, host=args.host, port=args.port, immutable=args.immutable)
