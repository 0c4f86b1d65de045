"""Expected failures get one clear line and a non-zero exit, never a traceback.

Run through the real CLI in a subprocess (what a new user sees), with GitHub
"unreachable" as a closed port on 127.0.0.1.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def graphcrawl(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("GITHUB_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "graphcrawl.cli", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]        # nothing listens once the socket is closed


def one_clean_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("graphcrawl: error: ")
    return lines[0]


def test_crawl_limit_with_github_unreachable(tmp_path):
    port = closed_port()
    proc = graphcrawl("crawl", "--limit", "5", "--api-base", f"http://127.0.0.1:{port}", "--db",
                      str(tmp_path / "g.db"), "--workdir", str(tmp_path / "w"), "--no-progress", cwd=tmp_path)
    line = one_clean_line(proc)
    assert f"cannot reach the GitHub API at http://127.0.0.1:{port}" in line
    assert "--repo" in line                       # says what else to do


@pytest.mark.parametrize("argv, expect", [
    (["report", "--db", "{tmp}/none.db"], "no such database"),
    (["report", "--db", "{tmp}/notdb.db"], "not a graphcrawl SQLite database"),
    (["triage", "--db", "{tmp}/notdb.db"], "not a graphcrawl SQLite database"),
    (["serve", "--db", "{tmp}/none.db"], "no such database"),
    (["serve", "--db", "{tmp}/notdb.db"], "not a graphcrawl SQLite database"),
    (["report", "--db", "{tmp}/notdb.db", "--serve-url", "http://127.0.0.1:8001"], "give --html FILE"),
    (["crawl", "--repos-file", "{tmp}/missing.txt", "--db", "{tmp}/g.db"], "no such file"),
    (["crawl", "--repo", "not a repo!", "--db", "{tmp}/g.db", "--workdir", "{tmp}/w"], "is not owner/name"),
    (["crawl", "--repo", "a/b", "--db", "{tmp}/notdb.db/sub.db"], "not a graphcrawl SQLite database"),
])
def test_expected_failures_are_one_line(tmp_path, argv, expect):
    (tmp_path / "notdb.db").write_text("not sqlite\n")
    proc = graphcrawl(*[a.format(tmp=tmp_path) for a in argv], cwd=tmp_path)
    assert expect in one_clean_line(proc)
    assert (tmp_path / "notdb.db").read_text() == "not sqlite\n"     # nothing overwritten
