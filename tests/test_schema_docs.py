"""Every column of the schema is documented once (db/schema_docs.py), and the served metadata comes from it."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from db.schema_docs import COLUMN_DOCS, STATUS_DOCS, TABLE_DOCS, funnel_html, schema_columns, unit
from db.status import CaseStatus
from db.store import TABLES, Store
from reports.serve.metadata import build_metadata
from reports.serve.queries import Columns


def test_every_schema_column_has_a_description_and_no_description_is_stale() -> None:
    columns = schema_columns()
    assert set(TABLE_DOCS) == set(TABLES) == set(COLUMN_DOCS)
    for table, cols in columns.items():
        missing = [c for c in cols if not COLUMN_DOCS[table].get(c, "").strip()]
        assert missing == [], f"document {table}.{missing} in db/schema_docs.py"
        stale = sorted(set(COLUMN_DOCS[table]) - set(cols))
        assert stale == [], f"db/schema_docs.py describes columns {table} no longer has: {stale}"


def test_every_status_is_explained_in_funnel_order() -> None:
    assert list(STATUS_DOCS) == [s.value for s in CaseStatus]
    text = funnel_html()
    positions = [text.index(f"<code>{s.value}</code>") for s in CaseStatus]
    assert positions == sorted(positions)


def test_time_columns_have_units_from_their_names() -> None:
    assert unit("results", "compile_s") == "s" and unit("results", "eager_ms") == "ms"
    assert unit("results", "hook_overhead_us") == "us" and unit("repos", "clone_s") == "s"
    assert unit("results", "stage_s") is None          # JSON text, not a number of seconds
    assert unit("results", "speedup") is None
    timed = [(t, c) for t, (cols, _) in TABLES.items() for c, typ in cols.items()
             if typ is float and c.endswith(("_s", "_ms", "_us"))]
    assert len(timed) >= 10 and all(unit(t, c) for t, c in timed)


def test_metadata_describes_exactly_the_columns_the_file_has(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    meta = build_metadata(db, Columns.of(conn))["databases"]["gc"]
    results = meta["tables"]["results"]
    assert results["title"] == TABLE_DOCS["results"][0]
    assert results["columns"] == COLUMN_DOCS["results"]
    assert results["units"]["compile_s"] == "s" and results["units"]["hook_overhead_us"] == "us"
    assert {"computed": "kind"} in results["facets"] and "status" in results["facets"]
    assert "success_by_run" in meta["queries"] and "<code>parity_failed</code>" in meta["description_html"]
    # A database from an older graphcrawl: its missing columns are neither described nor faceted.
    conn.execute("alter table results drop column reason")
    conn.execute("alter table results drop column compile_cpu_s")
    conn.commit()
    old = build_metadata(db, Columns.of(conn))["databases"]["gc"]["tables"]["results"]
    assert "reason" not in old["columns"] and "reason" not in old["facets"]
    assert "compile_cpu_s" not in old["units"] and "compile_s" in old["units"]
    conn.close()
