"""`crawl --export`: torch.export, save/load, a dynamic batch and AOTInductor over the stored cases.

Real git repos, real sandboxed workers, real torch.export and real AOTInductor
(gcc) on CPU. An inference crawl (backend eager: cheap, it only has to store the
cases and say what torch.compile captures) comes first; the export run replays
its stored cases, as a user runs it over a database that already exists.
"""
from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from db.status import failure_kind
from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.export_fixtures import EXPECTED_EXPORT, make_exportzoo, make_hang_repo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def export_db(tmp_path_factory: pytest.TempPathFactory, session_workdir: Path) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("exportzoo")
    os.chmod(root, 0o755)
    repo = make_exportzoo(root)
    db = root / "export.db"
    common = ["--db", str(db), "--repo", repo.as_uri(), "--workdir", str(session_workdir), "--backend", "eager",
              "--workers", "1", "--timeout", "300", "--no-progress", *sandbox_flags()]
    assert main(["crawl", *common]) == 0
    specs_before = dict(sqlite3.connect(db).execute("select id, spec from cases"))
    assert main(["crawl", *common, "--export"]) == 0
    return db, repo, specs_before


def _rows(db: Path, run_like: str = "%-export") -> dict[str, dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = conn.execute("select r.*, m.qualname from results r join modules m on m.id = r.module_id "
                        "where r.run_id like ?", [run_like])
    return {row["qualname"]: dict(row) for row in rows}


def test_export_is_a_run_of_its_own_over_the_stored_cases(export_db: tuple[Path, Path, dict]) -> None:
    db, _, before = export_db
    assert dict(sqlite3.connect(db).execute("select id, spec from cases")) == before and all(before.values())
    runs = dict(sqlite3.connect(db).execute('select id, "check" from runs'))
    (export_run,) = [r for r in runs if r.endswith("-export")]
    assert runs[export_run] == "export" and runs[export_run[: -len("-export")]] == "inference"


def test_each_module_ends_where_it_should(export_db: tuple[Path, Path, dict]) -> None:
    got = {q: (r["status"], r["stage"], r["export_class"], r["export_strict"]) for q, r in _rows(export_db[0]).items()}
    assert got == EXPECTED_EXPORT


def test_a_module_that_exports_passes_every_door(export_db: tuple[Path, Path, dict]) -> None:
    row = _rows(export_db[0])["ExportsFine"]
    steps = json.loads(row["export_steps"])
    assert {k for k, v in steps.items() if v["ok"] is True} == {"nonstrict", "strict", "run", "serialize",
                                                                "dynamic", "aoti"}
    assert steps["serialize"]["bytes"] > 0 and steps["run"]["max_abs_err"] < 1e-5
    assert steps["dynamic"]["size"] == "batch=3" and steps["dynamic"]["specialized"] is False
    assert row["dynamic_specialized"] == 0 and row["draft_report"] is None
    assert row["compile_s"] > 0 and row["compile_cpu_s"] > 0 and row["capture_s"] > 0
    assert {"export_nonstrict", "export_strict", "export_run", "serialize", "export_dynamic", "aoti_compile",
            "aoti_run"} <= set(json.loads(row["stage_s"]))


def test_strict_and_non_strict_disagree_both_ways(export_db: tuple[Path, Path, dict]) -> None:
    rows = _rows(export_db[0])
    inspects = json.loads(rows["InspectsFrames"]["export_steps"])
    assert inspects["nonstrict"]["ok"] and not inspects["strict"]["ok"]
    assert inspects["strict"]["error"].startswith("Unsupported")   # Dynamo's: one graph or nothing
    item = json.loads(rows["ItemAsSize"]["export_steps"])
    assert not item["nonstrict"]["ok"] and item["strict"]["ok"]
    assert rows["ItemAsSize"]["error_type"] == "GuardOnDataDependentSymNode"


def test_draft_export_reports_what_torch_found(export_db: tuple[Path, Path, dict]) -> None:
    rows = _rows(export_db[0])
    branch = json.loads(rows["BranchesOnData"]["draft_report"])
    assert branch["ok"] and branch["failures"][0]["type"] == "DATA_DEPENDENT_ERROR"
    assert branch["failures"][0]["where"].startswith("exportmodels.py:") and "y.sum() > 0" in branch["failures"][0]["where"]
    custom = json.loads(rows["CustomOpNoFake"]["draft_report"])
    assert custom["failures"][0] == {**custom["failures"][0], "type": "MISSING_FAKE_KERNEL",
                                     "what": "exportzoo.triple.default"}
    boxed = json.loads(rows["ReturnsABox"]["draft_report"])      # draft_export cannot flatten it either
    assert not boxed["ok"] and "Box" in boxed["error"]


def test_an_aoti_parity_failure_is_the_compilers_at_its_aoti_stage(export_db: tuple[Path, Path, dict]) -> None:
    row = _rows(export_db[0])["ReluWrongUnderAOTI"]
    steps = json.loads(row["export_steps"])
    assert all(steps[k]["ok"] for k in ("nonstrict", "run", "serialize", "dynamic"))
    assert steps["aoti"]["ok"] is False and steps["aoti"]["status"] == "parity_failed"
    assert failure_kind(row["status"], row["stage"], row["reason"]) == "compiler"
    assert row["max_abs_err"] < 1e-5 and steps["aoti"]["max_abs_err"] >= 0.9    # relu(x) + 1 where x > 0


def test_an_export_that_hangs_ends_timeout_at_its_export_stage(tmp_path: Path, session_workdir: Path) -> None:
    repo = make_hang_repo(tmp_path)
    db = tmp_path / "hang.db"
    assert main(["crawl", "--db", str(db), "--repo", repo.as_uri(), "--workdir", str(session_workdir), "--export",
                 "--workers", "1", "--timeout", "20", "--no-progress", *sandbox_flags()]) == 0
    (row,) = _rows(db).values()
    assert (row["status"], row["stage"]) == ("timeout", "export")
    assert failure_kind(row["status"], row["stage"]) == "compiler"


def test_a_package_that_does_not_load_is_a_status_with_its_message(tmp_path: Path, monkeypatch) -> None:
    """The AOTInductor step on a package file that is not one (the compile is replaced by writing
    junk: the load, torch's own, is what is tested): run_failed at aoti, the worker lives on."""
    import torch

    from capture import torch_api
    from capture.checks import export
    from capture.checks.steps import Case
    from db.status import Stage

    def junk_package(ep, path: str) -> str:
        Path(path).write_bytes(b"not a zip archive")
        return path

    monkeypatch.setattr(torch_api, "aoti_compile", junk_package)
    module = torch.nn.Linear(4, 4).eval()
    c = Case({"scratch": str(tmp_path)}, {}, module=module, args=[torch.randn(2, 4)])
    c.spec = {"no_grad": True}
    c.eager_out = c.call(module)
    o = export.Outcomes(c)
    export.aoti(c, o, torch_api.export_program(module, c.args, {}, strict=False))
    assert o.steps["aoti"]["status"] == "run_failed" and o.steps["aoti"]["load"] is False
    assert o.steps["aoti"]["error"] and o.failures[0].stage is Stage.AOTI
