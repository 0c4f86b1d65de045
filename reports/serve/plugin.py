"""The Datasette plugin `graphcrawl serve` registers: graphcrawl's own code inside SQL and pages.

- SQL functions (prepare_connection) that call the triage code, so a canned
  query clusters exactly as `graphcrawl triage` does: gc_cluster(status,
  stage, error_type, error_msg, error_frame, break_ids, reason) is the
  cluster id (reports/signature.py), gc_message the normalized message,
  gc_break_id the first graph-break id, gc_kind compiler/harness
  (db/status.failure_kind); gc_repro_command and gc_show_command the commands
  `triage show` prints (links.py), with this database's path.
- A failure-kind facet and its `?_kind=compiler|harness|pass` filter on
  the results table: kind is computed, not a column, and a compiler
  developer's first question is "only the compiler's failures".
- Column descriptions on a table page fold into one <details> (extra_body_script).
- Case ids link to the case's page (repro and triage commands); results with
  a stored torch trace link to it (served from <db>.traces/ by TRACE_ROUTE,
  never a path outside it).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.facets import Facet
from datasette.filters import FilterArguments
from datasette.utils import path_with_added_args, path_with_removed_args
from datasette.utils.asgi import Response
from markupsafe import Markup, escape

from db import traces
from db.status import failure_kind
from reports.serve import links
from reports.signature import first_break_id, normalize_message, signature

KIND_PARAM = "_kind"
KINDS = ("compiler", "flaky", "harness", "pass")


def cluster_of(status: str | None, stage: str | None, error_type: str | None, error_msg: str | None,
               error_frame: str | None, break_ids: str | None, reason: str | None,
               export_class: str | None = None, flaky: Any = None) -> str | None:
    """The triage cluster id of one result row (None for a pass)."""
    if status is None or status == "pass":
        return None
    return signature(status, stage, error_type, error_msg, error_frame, break_ids, reason, export_class,
                     flaky).cluster_id


def kind_of(status: str | None, stage: str | None, reason: str | None, flaky: Any = None) -> str | None:
    return None if status is None else failure_kind(status, stage, reason, flaky)


def _db_path(datasette: Any, database: str) -> str:
    try:
        path = datasette.get_database(database).path
    except KeyError:
        path = None
    return path or "graphcrawl.db"


@hookimpl
def prepare_connection(conn: Any, database: str, datasette: Any) -> None:
    db_path = _db_path(datasette, database)
    conn.create_function("gc_cluster", 7, cluster_of, deterministic=True)
    conn.create_function("gc_cluster", 9, cluster_of, deterministic=True)   # + export_class, flaky
    conn.create_function("gc_message", 1, normalize_message, deterministic=True)
    conn.create_function("gc_break_id", 1, first_break_id, deterministic=True)
    conn.create_function("gc_kind", 3, kind_of, deterministic=True)
    conn.create_function("gc_kind", 4, kind_of, deterministic=True)   # + flaky
    conn.create_function("gc_repro_command", 2, lambda run, case: None if not (run and case) else
                         links.repro_command(db_path, run, case), deterministic=True)
    conn.create_function("gc_show_command", 2, lambda run, cluster: None if not (run and cluster) else
                         links.show_command(db_path, run, cluster), deterministic=True)


def _kind_sql(columns: list[str] | set[str]) -> str:
    reason = "reason" if "reason" in columns else "null"
    flaky = "flaky" if "flaky" in columns else "null"
    return f"coalesce(gc_kind(status, stage, {reason}, {flaky}), 'pass')"


async def _columns(datasette: Any, database: str, table: str) -> list[str]:
    db = datasette.get_database(database)
    return await db.table_columns(table) if await db.table_exists(table) else []


@hookimpl
def filters_from_request(request: Any, database: str, table: str, datasette: Any) -> Any:
    async def inner() -> FilterArguments | None:
        value = request.args.get(KIND_PARAM)
        if not value or not table:
            return None
        columns = await _columns(datasette, database, table)
        if not {"status", "stage"} <= set(columns):
            return None
        return FilterArguments([f"{_kind_sql(columns)} = :gc_kind"], params={"gc_kind": value},
                               human_descriptions=[f'failure kind is "{value}"'])
    return inner


class KindFacet(Facet):
    """Counts of compiler failures, harness failures and passes; a click filters by `_kind`."""

    type = "computed"   # shown as "kind (computed)": not a column of the table

    async def suggest(self) -> list[dict[str, Any]]:
        return []

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        if not self.get_configs():
            return [], []
        columns = await self.get_columns(self.sql, self.params)
        if not {"status", "stage"} <= set(columns):
            return [], []
        rows = (await self.ds.execute(
            self.database, f"select {_kind_sql(columns)} as value, count(*) as count from ({self.sql}) "
                           "group by value order by count desc, value", self.params,
            custom_time_limit=self.ds.setting("facet_time_limit_ms"))).rows
        chosen = set(self.request.args.getlist(KIND_PARAM))
        values = []
        for row in rows:
            value = row["value"]
            selected = value in chosen
            path = (path_with_removed_args(self.request, {KIND_PARAM: value}) if selected
                    else path_with_added_args(self.request, {KIND_PARAM: value}))
            values.append({"value": value, "label": value, "count": row["count"], "selected": selected,
                           "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(path))})
        return [{"name": "kind", "type": self.type, "hideable": False, "results": values, "truncated": False,
                 "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {"_facet_computed": "kind"}))}], []


@hookimpl
def register_facet_classes() -> list[type]:
    return [KindFacet]


def _row_get(row: Any, key: str) -> Any:
    try:
        return row[key] if key in row.keys() else None
    except (AttributeError, IndexError, KeyError, TypeError):
        return None


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any) -> Any:
    """A case id links to its case page (repro, triage) and, when kept, its torch trace."""
    if column == "trace_path" and value:
        run, case = _row_get(row, "run_id"), _row_get(row, "case_id")
        if run and case:
            return Markup(f'<a href="{escape(datasette.urls.path(links.trace_url(run, case)))}">{escape(value)}</a>')
        return None
    if column not in ("case_id", "example_case") or not value:
        return None
    run = _row_get(row, "run_id")
    if not run:
        return None
    base = datasette.urls.database(database)
    page = f"{base}/case?{urlencode({'run': run, 'case': value})}"
    parts = [f'<a href="{escape(page)}" title="repro and triage commands">repro</a>']
    if _row_get(row, "trace_path"):
        parts.append(f'<a href="{escape(datasette.urls.path(links.trace_url(run, value)))}">trace</a>')
    return Markup(f"{escape(value)} <small>({' · '.join(parts)})</small>")


# A table page lists every column's description above the rows (Datasette's template): 70 of
# them push the facets and the rows off the first screen, so they fold into a <details>
# (also shown in each column's menu).
FOLD_DESCRIPTIONS = """
(function () {
  var dl = document.querySelector("dl.column-descriptions");
  if (!dl) return;
  var box = document.createElement("details"), title = document.createElement("summary");
  title.textContent = "What each column means (" + dl.querySelectorAll("dt").length + " columns)";
  dl.parentNode.insertBefore(box, dl);
  box.appendChild(title);
  box.appendChild(dl);
})();
"""


@hookimpl
def extra_body_script(view_name: str) -> str | None:
    return FOLD_DESCRIPTIONS if view_name == "table" else None


async def trace_view(request: Any, datasette: Any) -> Response:
    """A case's stored torch trace (or, with logs=1, its graph-break/recompile log) as plain text."""
    run, case = request.args.get("run"), request.args.get("case")
    names = [n for n, d in datasette.databases.items() if d.path]
    name = request.args.get("db") or (names[0] if names else None)
    if not (run and case and name in names):
        return Response.text("give run= and case= (and db= when several databases are served)", status=400)
    db = datasette.get_database(name)
    cols = await _columns(datasette, name, "results")
    if "trace_path" not in cols:
        return Response.text("this database keeps no traces (made before graphcrawl kept them)", status=404)
    row = (await db.execute("select trace_path from results where run_id = ? and case_id = ?", [run, case])).first()
    trace, logs = traces.resolve(db.path, row["trace_path"] if row else None)
    path = logs if request.args.get("logs") else trace
    root = traces.traces_root(Path(db.path).resolve()).resolve()
    if path is None or root not in path.resolve().parents:
        return Response.text(f"no stored trace for case {case} in run {run}", status=404)
    return Response.text(path.read_text(encoding="utf-8", errors="replace"))


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [(r"^" + links.TRACE_ROUTE + r"$", trace_view)]
