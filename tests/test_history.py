"""`graphcrawl report --history`: every run of a database in time order, by check, over the same cases.

Three real runs (backend eager) of one fixture repo: r1 runs only its first
three cases (--max-cases 3), r2 all four, r3 all four with --fullgraph, where
the graph break of `Breaks` fails capture: one case changes status. r1 and
r2 are crawled into one database, r3 into a copy of it after r1; `graphcrawl
merge` folds them together, so the history is also that of merged sources.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from db.store import Store
from graphcrawl.cli import main
from reports.history import history
from reports.scope import open_store
from tests.conftest import sandbox_flags
from tests.gitfixtures import make_repo

try:
    from tests.test_report_data import make_report_db
except ImportError:  # tests/ itself on sys.path (plain `pytest`)
    from test_report_data import make_report_db

MODULES = '''
import torch
import torch.nn as nn


class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return torch.relu(self.lin(x))


class Breaks(nn.Module):
    """One graph break: passes with breaks allowed, capture_failed under --fullgraph."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        y = self.lin(x)
        torch._dynamo.graph_break()
        return y * 2


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        raise ValueError("always")


class Late(nn.Module):
    """After --max-cases 3: only in r2 and r3, so not one of the same cases."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return self.lin(x) - 1
'''


def _case(db: Path, qualname: str) -> str:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("select id from modules where qualname = ?", [qualname]).fetchone()[0]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory, session_workdir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("history")
    os.chmod(root, 0o755)
    repo = make_repo(root, "hist", {"m.py": MODULES})
    a, b = root / "a.db", root / "b.db"

    def crawl(db: Path, run: str, *extra: str) -> None:
        assert main(["crawl", "--db", str(db), "--repo", repo.as_uri(), "--workdir", str(session_workdir),
                     "--workers", "2", "--backend", "eager", "--timeout", "120", "--no-progress", "--run", run,
                     *sandbox_flags(), *extra]) == 0

    crawl(a, "r1", "--max-cases", "3")
    shutil.copy(a, b)
    crawl(a, "r2")
    crawl(b, "r3", "--fullgraph")
    merged = root / "merged.db"
    assert main(["merge", str(a), str(b), "--db", str(merged)]) == 0
    return {"a": a, "b": b, "merged": merged}


def test_history_of_three_real_runs(three_runs: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    db = three_runs["merged"]
    assert main(["report", "--db", str(db), "--history", "--format", "json"]) == 0
    [inference] = json.loads(capsys.readouterr().out)["checks"]
    assert inference["check"] == "inference" and inference["same_cases"] == 3     # Plain, Breaks, Broken
    runs = inference["runs"]
    assert [r["run"] for r in runs] == ["r1", "r2", "r3"]                          # time order
    assert [r["cases"] for r in runs] == [3, 4, 4]
    assert [(r["same_cases"], r["runnable"]) for r in runs] == [(3, 2)] * 3          # Broken fails in eager
    assert [r["pass_pct"] for r in runs] == [100.0, 100.0, 50.0]
    assert [r["capture_pct"] for r in runs] == [100.0, 100.0, 50.0]
    assert [r["pass_pct_of_all"] for r in runs] == [pytest.approx(66.67, abs=0.01)] * 2 + [pytest.approx(33.33, abs=0.01)]
    assert [r["torch"] for r in runs] == [runs[0]["torch"]] * 3 and [r["fullgraph"] for r in runs] == [False, False, True]
    assert all(r["compile_n"] == 2 and r["compile_median_s"] > 0 for r in runs[:2])
    assert runs[2]["compile_n"] == 1                                               # Plain; Breaks stopped at capture
    assert [(r["previous"], r["changed"]) for r in runs] == [(None, 0), ("r1", 0), ("r2", 1)]
    [change] = runs[2]["changes"]
    assert (change["case_id"], change["before"], change["after"]) == (_case(db, "Breaks"), "pass", "capture_failed")
    # the merged database's history is its sources': r1 and r2 as database a has them
    with open_store(three_runs["a"]) as store:
        [a_hist] = history(store)
    assert a_hist.same_cases == 3 and [r.as_dict() for r in a_hist.runs] == runs[:2]


def test_history_table_and_csv(three_runs: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    db = three_runs["merged"]
    assert main(["report", "--db", str(db), "--history"]) == 0
    out = capsys.readouterr().out
    assert "History: inference (3 runs, 3 same cases)" in out
    assert "cases that changed status" in out and "capture_failed" in out
    line = next(x for x in out.splitlines() if x.startswith("r3"))
    assert "eager fullgraph" in line and "50.0%" in line
    assert main(["report", "--db", str(db), "--history", "--format", "csv"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("check,run,started_at") and [r.split(",")[1] for r in rows[1:]] == ["r1", "r2", "r3"]


def test_history_groups_runs_by_check(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Training and dynamic runs are their own series; a database older than runs.check is read by run name."""
    db = make_report_db(tmp_path / "checks.db")
    with Store(db) as store:
        for run, check in (("r1-training", "training"), ("r1-dynamic", "dynamic")):
            store.start_run({"id": run, "torch": "2.13.0+cpu", "check": check, "started_at": "2025-01-04T00:00:00+00:00"})
            for r in list(store.results("r1")):
                store.record_result(dict(r, run_id=run))
    conn = sqlite3.connect(db)
    conn.execute('alter table runs drop column "check"')
    conn.commit()
    conn.close()
    with open_store(db) as store:
        checks = history(store)
    assert [(h.check, [r.run for r in h.runs]) for h in checks] == [
        ("inference", ["r1", "r2", "r3"]), ("training", ["r1-training"]), ("dynamic", ["r1-dynamic"])]
    assert checks[1].runs[0].pass_pct == 25.0 and checks[1].runs[0].previous is None
    assert main(["report", "--db", str(db), "--history", "--project", "bob/nlp", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["cases"] for r in data["checks"][0]["runs"]] == [5, 5, 5]
    assert main(["report", "--db", str(db), "--history", "--run", "r1"]) == 2          # --history takes every run
