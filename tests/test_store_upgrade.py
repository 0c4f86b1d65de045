"""A database written by an older graphcrawl opens for reports: missing columns are added."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from db.store import Store


def _old_db(path: Path) -> None:
    with Store(path) as store:
        store.db.execute("insert into runs (id) values ('r')")
        store.db.execute("insert into results (run_id, case_id, status) values ('r', 'c', 'pass')")
    conn = sqlite3.connect(path)
    conn.execute("alter table results drop column stage_s")
    conn.commit()
    conn.close()


def test_readonly_open_adds_newer_columns_and_keeps_rows(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    _old_db(db)
    with Store(db, readonly=True) as store:
        assert "stage_s" in store.db["results"].columns_dict
        assert [r["status"] for r in store.db["results"].rows] == ["pass"]

