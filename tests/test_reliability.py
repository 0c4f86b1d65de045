"""The driver survives kill -9, refuses a second writer, and explains bad input."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from db.store import Store
from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.gitfixtures import make_repo

SLOW_MODULE = '''
import time
import torch.nn as nn


class Slow{i}(nn.Module):
    def __init__(self):
        super().__init__()
        time.sleep(0.7)
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return self.lin(x)
'''


@pytest.fixture(scope="module")
def slow_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("slowrepos")
    os.chmod(root, 0o755)
    return make_repo(root, "slow", {f"m{i}.py": SLOW_MODULE.format(i=i) for i in range(8)})


def _crawl_cmd(db: Path, repo: Path, workdir: Path) -> list[str]:
    return [sys.executable, "-m", "graphcrawl.cli", "crawl", "--db", str(db), "--repo", repo.as_uri(),
            "--workdir", str(workdir), "--backend", "eager", "--workers", "1", "--no-progress",
            *sandbox_flags()]


def _count(db: Path) -> int:
    try:
        return sqlite3.connect(db, timeout=5).execute("select count(*) from results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_9_then_resume_loses_nothing_and_duplicates_nothing(slow_repo: Path, tmp_path: Path,
                                                                 session_workdir: Path) -> None:
    db = tmp_path / "k.db"
    proc = subprocess.Popen(_crawl_cmd(db, slow_repo, session_workdir), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while _count(db) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)  # the driver only: its workers must notice by themselves
    proc.wait()
    done_before = dict(sqlite3.connect(db).execute("select case_id, finished_at from results"))
    assert 2 <= len(done_before) < 8
    rc = subprocess.run(_crawl_cmd(db, slow_repo, session_workdir), capture_output=True, timeout=600).returncode
    assert rc == 0
    with Store(db, readonly=True) as store:
        assert store.integrity_ok()
        rows = list(store.db.query("select case_id, finished_at, status from results"))
    assert len(rows) == 8 == len({r["case_id"] for r in rows})
    assert all(r["status"] == "pass" for r in rows)
    after = {r["case_id"]: r["finished_at"] for r in rows}
    assert all(after[c] == t for c, t in done_before.items())  # recorded cases were not rerun


def test_second_crawl_on_the_same_database_is_refused(slow_repo: Path, tmp_path: Path,
                                                      session_workdir: Path) -> None:
    db = tmp_path / "lock.db"
    first = subprocess.Popen(_crawl_cmd(db, slow_repo, session_workdir), start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not Path(str(db) + ".lock").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        second = subprocess.run(_crawl_cmd(db, slow_repo, session_workdir), capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 2
        assert "in use by a running crawl" in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


def test_a_file_that_is_not_sqlite_gets_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "notes.db"
    db.write_text("these are my notes, not a database\n" * 100)
    assert main(["crawl", "--db", str(db), "--repo", "owner/name", "--no-progress", *sandbox_flags()]) == 2
    err = capsys.readouterr().err
    assert "not a graphcrawl SQLite database" in err and "Traceback" not in err
    assert db.read_text().startswith("these are my notes")


def test_missing_repo_is_a_status_and_the_crawl_goes_on(slow_repo: Path, tmp_path: Path,
                                                        session_workdir: Path) -> None:
    db = tmp_path / "m.db"
    missing = (tmp_path / "does-not-exist.git").as_uri()
    tiny = make_repo(tmp_path, "tiny", {"m.py": SLOW_MODULE.format(i=0)})
    assert main(["crawl", "--db", str(db), "--repo", missing, "--repo", tiny.as_uri(), "--workdir",
                 str(session_workdir), "--backend", "eager", "--no-progress", *sandbox_flags()]) == 0
    with Store(db, readonly=True) as store:
        statuses = {r["id"].rsplit("-", 1)[0]: (r["status"], r["error"]) for r in store.repos()}  # local/<folder>-<hash>
        assert statuses["local/does-not-exist"][0] == "clone_failed"
        assert "not_found" in statuses["local/does-not-exist"][1]
        assert statuses["local/tiny"][0] == "scanned"
        assert store.result_counts(store.latest_run_id()) == {"pass": 1}


def test_crawl_without_repos_says_what_to_give(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    assert main(["crawl", "--db", str(tmp_path / "x.db")]) == 2
    assert "--repo" in capsys.readouterr().err
