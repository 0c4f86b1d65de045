"""Where things live in the served views, and the commands a case page shows.

Why without Datasette: the HTML report (`report --html FILE --serve-url URL`)
links into a running `graphcrawl serve` and must not need Datasette to do
so; the served pages show the same repro and triage commands the terminal
prints, built here once.
"""
from __future__ import annotations

import shlex
from pathlib import Path
from urllib.parse import urlencode

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
TRACE_ROUTE = "/-/graphcrawl/trace"


def tilde_encode(text: str) -> str:
    """Datasette's encoding of a database or table name in a URL path (`gc.v2` -> `gc~2Ev2`)."""
    out = []
    for b in text.encode("utf-8"):
        out.append(chr(b) if b in _SAFE else "+" if b == 0x20 else f"~{b:02X}")
    return "".join(out)


def database_name(db_path: str | Path) -> str:
    """The name Datasette gives a database file: its stem."""
    return Path(db_path).stem


def database_url(base_url: str, db_path: str | Path) -> str:
    return base_url.rstrip("/") + "/" + tilde_encode(database_name(db_path))


def query_url(base_url: str, db_path: str | Path, query: str, **params: str | None) -> str:
    """A canned query (or table) of the served database, with its parameters."""
    url = database_url(base_url, db_path) + "/" + tilde_encode(query)
    args = {k: v for k, v in params.items() if v is not None}
    return url + ("?" + urlencode(args) if args else "")


def run_links(base_url: str, db_path: str | Path, run_id: str) -> list[tuple[str, str]]:
    """(label, URL) of the served views of one run: what the HTML report links to."""
    db = db_path
    return [
        ("results of this run, faceted", query_url(base_url, db, "results", run_id=run_id)),
        ("compiler failures of this run", query_url(base_url, db, "results", run_id=run_id, _kind="compiler")),
        ("success rates by run", query_url(base_url, db, "success_by_run")),
        ("success rates by project", query_url(base_url, db, "success_by_project", run=run_id)),
        ("compiler failures by cluster", query_url(base_url, db, "compiler_clusters", run=run_id)),
        ("graph-break reasons and ids", query_url(base_url, db, "graph_breaks", run=run_id)),
        ("slowest compiles", query_url(base_url, db, "slowest_compiles", run=run_id)),
        ("stubs runnable cases depend on", query_url(base_url, db, "runnable_stubs", run=run_id)),
    ]


def _db_arg(db_path: str | Path) -> str:
    return "" if Path(db_path).name == "graphcrawl.db" and not Path(db_path).is_absolute() \
        else f" --db {shlex.quote(str(db_path))}"


def repro_command(db_path: str | Path, run_id: str, case_id: str) -> str:
    """The command that writes a standalone repro script of one case (as `triage show` prints it)."""
    return (f"graphcrawl triage repro {shlex.quote(case_id)} --run {shlex.quote(run_id)}{_db_arg(db_path)} "
            "-o repro.py")


def show_command(db_path: str | Path, run_id: str, cluster: str) -> str:
    """The command that lists a failure cluster's cases with full errors."""
    return f"graphcrawl triage show {cluster} --run {shlex.quote(run_id)}{_db_arg(db_path)}"


def trace_url(run_id: str, case_id: str, logs: bool = False) -> str:
    """The served path of a case's stored torch trace (plugin.py's route)."""
    args = {"run": run_id, "case": case_id}
    if logs:
        args["logs"] = "1"
    return TRACE_ROUTE + "?" + urlencode(args)
