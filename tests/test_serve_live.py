"""`graphcrawl serve` while a crawl writes to the same database: the crawl's results all land.

The database starts with a rollback journal (as a file made by another
tool would); serve switches it to WAL, where its read-only connections never
hold up the crawl's commits. A thread asks the server for the result count
over and over while a real crawl (backend eager) runs into the same file.
"""
from __future__ import annotations

import importlib.util
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from db.store import Store
from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.gitfixtures import make_repo
from tests.served import Server

pytestmark = pytest.mark.skipif(importlib.util.find_spec("datasette") is None
                                and not os.environ.get("GRAPHCRAWL_REQUIRE_SERVE"),
                                reason="datasette is not installed (pip install 'graphcrawl[serve]')")

LIN = '''

class Lin{i}(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return self.lin(x) + {i}
'''
MODULE = "import torch.nn as nn\n" + "".join(LIN.format(i=i) for i in range(5)) + '''

class Raises(nn.Module):
    def forward(self, x):
        raise ValueError("no")
'''


def test_a_crawl_writes_everything_while_the_database_is_served(tmp_path: Path, session_workdir: Path) -> None:
    os.chmod(tmp_path, 0o755)
    repo = make_repo(tmp_path, "live", {"m.py": MODULE})
    db = tmp_path / "live.db"
    Store(db).close()
    conn = sqlite3.connect(db)
    assert conn.execute("pragma journal_mode=delete").fetchone()[0] == "delete"
    conn.close()
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()
    with Server(db) as server:
        conn = sqlite3.connect(db)
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
        conn.close()

        def poll() -> None:
            while not done.is_set():
                try:
                    seen.append(server.sql("select count(*) as n from results")[0]["n"])
                except BaseException as exc:  # noqa: BLE001 - reported by the test below
                    errors.append(exc)
                done.wait(0.2)

        reader = threading.Thread(target=poll)
        reader.start()
        try:
            rc = main(["crawl", "--db", str(db), "--repo", repo.as_uri(), "--workdir", str(session_workdir),
                       "--workers", "2", "--backend", "eager", "--timeout", "120", "--no-progress",
                       *sandbox_flags()])
        finally:
            done.set()
            reader.join()
        assert rc == 0 and errors == []
        conn = sqlite3.connect(db)
        landed = conn.execute("select case_id, status from results order by case_id").fetchall()
        modules = conn.execute("select count(*) from modules").fetchone()[0]
        conn.close()
        assert len(landed) == modules == 6                           # every case of the crawl is recorded
        assert sorted(s for _, s in landed) == ["eager_failed"] + ["pass"] * 5
        assert seen and seen == sorted(seen)                         # the served count only ever grew
        served = server.sql("select case_id, status from results order by case_id")
        assert [(r["case_id"], r["status"]) for r in served] == landed   # and the server sees them all
        rc, err = server.stop()
    assert rc == 130 and "Traceback" not in err
