"""Every column of the schema is documented once (db/schema_docs.py)."""
from __future__ import annotations

from db.schema_docs import COLUMN_DOCS, STATUS_DOCS, TABLE_DOCS, funnel_html, schema_columns, unit
from db.status import CaseStatus
from db.store import TABLES


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
