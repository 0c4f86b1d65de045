"""Datasette metadata for a crawl database, generated from the schema's own documentation.

Why generated: titles, descriptions and units come from db/schema_docs.py
(the one text that says what a column means) and the canned queries from
queries.py; nothing is copied into a metadata file that could drift from
the schema. Only the columns the served file really has are described, so
a database from an older graphcrawl shows what it holds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from db.schema_docs import COLUMN_DOCS, TABLE_DOCS, funnel_html, unit
from reports.serve.links import database_name
from reports.serve.queries import Columns, canned_queries

# Facets shown on each table's page (metadata facets cannot be switched off by a click).
FACETS: dict[str, list[Any]] = {
    "results": ["run_id", "status", "stage", {"computed": "kind"}, "reason", "repo_id"],
    "runs": ["check", "backend", "torch", "device"],
    "repos": ["status", "source", "selected"],
    "modules": ["repo_id"],
    "cases": ["repo_id"],
}

# Settings for databases of 100,000 results: queries that call Python per row (clustering) need
# more than Datasette's default 1 s; facet counts more than 200 ms; suggested facets would run
# one GROUP BY per column of a 70-column table on every page view, so they are off (the
# useful facets are configured above); long tracebacks are cut in HTML (full in JSON/CSV).
SETTINGS: dict[str, Any] = {
    "sql_time_limit_ms": 30_000,
    "facet_time_limit_ms": 5_000,
    "suggest_facets": False,
    "truncate_cells_html": 300,
    "default_page_size": 50,
}


def _table(name: str, columns: set[str]) -> dict[str, Any]:
    title, description = TABLE_DOCS.get(name, (name, ""))
    docs = COLUMN_DOCS.get(name, {})
    meta: dict[str, Any] = {
        "title": title, "description": description,
        "columns": {c: docs[c] for c in docs if c in columns},
    }
    units = {c: u for c in sorted(columns) if (u := unit(name, c))}
    if units:
        meta["units"] = units
    facets = [f for f in FACETS.get(name, []) if not isinstance(f, str) or f in columns]
    if facets:
        meta["facets"] = facets
    return meta


def build_metadata(db_path: str | Path, columns: Columns, immutable: bool = False) -> dict[str, Any]:
    """The metadata dict Datasette takes for serving `db_path`."""
    name = database_name(db_path)
    mode = ("immutable: the file must not change while served" if immutable else
            "read-only, live: a crawl may write to it while it is served")
    return {
        "title": f"graphcrawl: {Path(db_path).name}",
        "description_html": (
            f"<p>How well PyTorch 2 graph capture and codegen work on crawled code: {Path(db_path).name}, "
            f"served {mode}. Start with the canned queries on the database page.</p>"),
        "databases": {name: {
            "title": f"graphcrawl crawl database {Path(db_path).name}",
            "description_html": funnel_html(),
            "tables": {t: _table(t, cols) for t, cols in sorted(columns.tables.items()) if t in TABLE_DOCS},
            "queries": {q.name: q.as_metadata() for q in canned_queries(columns)},
        }},
    }
