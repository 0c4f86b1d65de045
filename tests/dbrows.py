"""Results rows of a crawled test database, keyed by module qualname.

Why: the funnel tests (inference, training, dynamic, export, verdicts) all
assert on one row per fixture class; one reader keeps their queries the same.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path


def results_by_qualname(db: Path, run_like: str = "%") -> dict[str, dict]:
    """Every results row of the runs whose id matches `run_like` (SQL LIKE), with its module's qualname."""
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("select r.*, m.qualname from results r join modules m on m.id = r.module_id "
                            "where r.run_id like ?", [run_like])
        return {row["qualname"]: dict(row) for row in rows}
    finally:
        conn.close()
