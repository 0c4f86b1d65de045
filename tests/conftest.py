"""Shared fixtures: real git repos, a real crawl of them, one compile cache per session.

The crawl of the fixture zoo (real bwrap workers, real Inductor compiles) is
done once per session and shared by the tests that read its database.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from capture.workers.sandbox import bwrap_problem


def sandbox_flags() -> list[str]:
    """Tests use the sandbox wherever it works (CI installs bwrap)."""
    return [] if bwrap_problem() is None else ["--unsafe-no-sandbox"]


@pytest.fixture(scope="session")
def session_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One workdir for the session, so Inductor's cache is warm after the first compile."""
    path = tmp_path_factory.mktemp("workdir")
    os.chmod(path, 0o755)
    return path


@pytest.fixture(scope="session")
def zoo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.fixture_repos import make_zoo
    root = tmp_path_factory.mktemp("repos")
    os.chmod(root, 0o755)
    return make_zoo(root)


@pytest.fixture(scope="session")
def zoo_crawl(tmp_path_factory: pytest.TempPathFactory, zoo_repo: Path, session_workdir: Path) -> Path:
    """A database filled by a real crawl of the zoo with Inductor; returns its path."""
    from graphcrawl.cli import main
    db = tmp_path_factory.mktemp("db") / "zoo.db"
    rc = main(["crawl", "--db", str(db), "--repo", zoo_repo.as_uri(), "--workdir", str(session_workdir),
               "--workers", "2", "--timeout", "240", "--no-progress", *sandbox_flags()])
    assert rc == 0
    return db


def copy_db(src: Path, dest_dir: Path) -> Path:
    dest = dest_dir / src.name
    shutil.copy(src, dest)
    return dest


@pytest.fixture(scope="session")
def triage_crawl(tmp_path_factory: pytest.TempPathFactory, session_workdir: Path) -> Path:
    """A real crawl (backend eager, one worker, 5 s deduction budget) of tests/triage_fixtures.py's
    repo: traces, graph breaks, a no-op forward, a hang in deduction; returns the db path."""
    from graphcrawl.cli import main
    from tests.triage_fixtures import make_triage_repo
    root = tmp_path_factory.mktemp("triagezoo")
    os.chmod(root, 0o755)
    db = root / "t.db"
    rc = main(["crawl", "--db", str(db), "--repo", str(make_triage_repo(root)), "--workdir", str(session_workdir),
               "--workers", "1", "--backend", "eager", "--timeout", "120", "--deduce-budget", "5",
               "--no-progress", *sandbox_flags()])
    assert rc == 0
    return db
