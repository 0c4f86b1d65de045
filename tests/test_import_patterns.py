"""Issue 19's import patterns (and those a fresh sample showed after it), each in a fixture
repo, through a real crawl (bwrap workers).

`crawl --check eager` runs every module to eager only (status runnable, run
name -eager); an inference run with the eager backend then replays the specs it
stored, re-applying the same stubs and skipped statements, to pass.
"""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from db.store import Store
from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.import_repos import (DECORATOR_SKIPPED, EXPECTED, PY2_SKIPPED, SKIPPED, TEMPLATE_SKIPPED, make_import_repo,
                                stubs)

INSTALLED = {n for n in ("decorator", "onnx") if importlib.util.find_spec(n) is not None}
RUNNABLE = {key for key, status in EXPECTED.items() if status == "runnable"}


def _crawl(db: Path, repo: Path, workdir: Path, *extra: str) -> None:
    rc = main(["crawl", "--db", str(db), "--repo", repo.as_uri(), "--workdir", str(workdir), "--backend", "eager",
               "--workers", "1", "--timeout", "120", "--no-progress", *sandbox_flags(), *extra])
    assert rc == 0


@pytest.fixture(scope="module")
def import_crawl(tmp_path_factory: pytest.TempPathFactory, session_workdir: Path) -> Path:
    root = tmp_path_factory.mktemp("importrepos")
    os.chmod(root, 0o755)
    repo = make_import_repo(root)
    db = tmp_path_factory.mktemp("importdb") / "import.db"
    _crawl(db, repo, session_workdir, "--check", "eager")
    _crawl(db, repo, session_workdir, "--run", "replay")
    return db


def _results(db: Path, run: str) -> dict[tuple[str, str], dict]:
    with Store(db, readonly=True) as store:
        rows = store.db.query(
            "select r.*, m.path, m.qualname, c.spec, c.stubs as case_stubs from results r "
            "join modules m on m.id = r.module_id join cases c on c.id = r.case_id where r.run_id = ?", [run])
        return {(row["path"], row["qualname"]): row for row in rows}


def _eager_run(db: Path) -> str:
    with Store(db, readonly=True) as store:
        runs = list(store.db.query("select id, \"check\" from runs where \"check\" = 'eager'"))
    assert len(runs) == 1 and runs[0]["id"].endswith("-eager")
    return runs[0]["id"]


def test_every_pattern_runs_in_the_eager_check(import_crawl: Path) -> None:
    got = {key: row["status"] for key, row in _results(import_crawl, _eager_run(import_crawl)).items()}
    assert got == EXPECTED


def test_each_case_records_its_stubs_and_skipped_statements(import_crawl: Path) -> None:
    rows = _results(import_crawl, _eager_run(import_crawl))
    got = {key: json.loads(row["stubs"] or "[]") for key, row in rows.items()}
    assert got == stubs(INSTALLED)


def test_the_replay_passes_with_the_same_stubs_and_skips(import_crawl: Path) -> None:
    rows = _results(import_crawl, "replay")
    assert {key: row["status"] for key, row in rows.items()} == \
        {key: "pass" if status == "runnable" else status for key, status in EXPECTED.items()}
    assert {key: json.loads(row["stubs"] or "[]") for key, row in rows.items()} == stubs(INSTALLED)
    assert all(row["spec"] for key, row in rows.items() if key in RUNNABLE)  # the eager run's specs, on the cases


def test_report_counts_skipped_statements_with_the_stubs(import_crawl: Path, capsys) -> None:
    assert main(["report", "--db", str(import_crawl), "--run", _eager_run(import_crawl), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    dep = data["yield"]["runnable_stubs"]
    assert dep["runnable"] == len(RUNNABLE)
    counted = {s["package"]: s["cases"] for s in dep["stubs"]}
    assert all(counted.get(s) == 1 for s in [*SKIPPED, DECORATOR_SKIPPED, TEMPLATE_SKIPPED]), counted
    assert all(counted.get(s) == 2 for s in PY2_SKIPPED), counted  # Py2Net's file, and Py2User's import of it
    # Legacy's statements, Tiny's sibling defined undecorated, Py2Net's file without its Python 2 lines,
    # MeshHead's and Py2User's imports of names whose statement was skipped
    assert dep["with_skipped_statements"] == 5


def test_a_use_of_a_skipped_statements_name_fails_naming_that_statement(import_crawl: Path) -> None:
    row = _results(import_crawl, _eager_run(import_crawl))[("meshlib/heads.py", "MeshDecoder")]
    assert row["status"] == "init_failed" and row["error_type"] == "NameError"
    assert "'EDGES'" in row["error_msg"] and "templates.py:9" in row["error_msg"], row["error_msg"]
