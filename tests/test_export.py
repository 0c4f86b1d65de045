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
import subprocess
import sys
from pathlib import Path

import pytest

from db.status import failure_kind
from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.dbrows import results_by_qualname
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
    return results_by_qualname(db, run_like)


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


def test_report_shows_each_door_and_what_export_cannot(export_db: tuple[Path, Path, dict], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    db = export_db[0]
    assert main(["report", "--db", str(db), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    doors = {c["check"]: (c["runnable"], c["passed"]) for c in data["checks"]}
    assert doors["export non-strict"] == (7, 3) and doors["export strict"] == (7, 3)
    assert doors["serialization"] == doors["export dynamic batch"] == (7, 3) and doors["AOTInductor"] == (7, 2)
    assert doors["export (every step)"] == (7, 2) and doors["inference"][0] == 7
    ex = data["export"]
    assert ex["classes"]["nonstrict"] == [{"class": "data_dependent", "count": 2},
                                          {"class": "no_fake_kernel", "count": 1}, {"class": "not_pytree", "count": 1}]
    assert {"class": "unsupported_python", "count": 1} in ex["classes"]["strict"]
    gap = ex["compile_vs_export"]
    inference = {q: r["status"] for q, r in _rows(db, "%-eager").items()}
    captured_not_exported = [q for q in ("BranchesOnData", "ItemAsSize", "CustomOpNoFake", "ReturnsABox")
                             if inference[q] != "capture_failed"]
    assert len(captured_not_exported) >= 2     # breaks are allowed in torch.compile
    assert gap["runnable_in_both"] == 7 and gap["export_cannot"] == len(captured_not_exported)
    assert gap["compile_captures"] == sum(s != "capture_failed" for s in inference.values())
    assert ex["frames"][0]["frame"].startswith("torch/")
    assert main(["report", "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert "Export: failure classes" in text and "torch.compile captures, export cannot" in text
    page = tmp_path / "export.html"
    assert main(["report", "--db", str(db), "--html", str(page)]) == 0
    html = page.read_text()
    assert 'id="export-funnel-chart-host"' in html and 'id="export-classes-chart-host"' in html


def test_report_compare_works_between_export_runs(export_db: tuple[Path, Path, dict], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    """Two export runs as two torch versions would leave them: the second is the first's rows
    under another run id, with ExportsFine now failing its AOTInductor step."""
    import shutil
    db = shutil.copy(export_db[0], tmp_path / "two.db")
    conn = sqlite3.connect(db)
    (run,) = [r for (r,) in conn.execute("select id from runs where id like '%-export'")]
    other = run.replace("torch2.13.0+cpu", "torch9.9.9+cpu")
    for table, key in (("runs", "id"), ("results", "run_id")):
        cols = ",".join(f'"{c[1]}"' for c in conn.execute(f"pragma table_info({table})") if c[1] != key)
        conn.execute(f"insert into {table} ({key}, {cols}) select ?, {cols} from {table} where {key} = ?", [other, run])
    fine = _rows(Path(db))["ExportsFine"]["case_id"]
    conn.execute("update results set status = 'compile_failed', stage = 'aoti', error_type = 'CppCompileError' "
                 "where run_id = ? and case_id = ?", [other, fine])
    conn.commit()
    assert main(["report", "--db", str(db), "--compare", run, other, "--format", "json"]) == 1
    cmp = json.loads(capsys.readouterr().out)
    assert [c["case_id"] for c in cmp["newly_failing"]] == [fine] and cmp["newly_passing"] == []


def test_triage_clusters_by_failure_class_and_shows_the_draft_report(export_db: tuple[Path, Path, dict],
                                                                     capsys: pytest.CaptureFixture) -> None:
    db = export_db[0]
    assert main(["triage", "--db", str(db), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["by_kind"] == {"compiler": 5, "flaky": 0, "harness": 0}   # each confirmed by its rerun
    classes = sorted(c["export_class"] or "-" for c in data["clusters"])
    assert classes == ["-", "data_dependent", "data_dependent", "no_fake_kernel", "not_pytree"]
    branch = next(c for c in data["clusters"] if c["error_type"] == "GuardOnDataDependentSymNode"
                  and "guard" in c["message"])
    assert main(["triage", "--db", str(db), "show", branch["id"]]) == 0
    shown = capsys.readouterr().out
    assert "export  failure class data_dependent" in shown
    assert "draft_export: 1 issue(s)" in shown and "DATA_DEPENDENT_ERROR" in shown and "y.sum() > 0" in shown


def test_triage_repro_reproduces_an_export_failure(export_db: tuple[Path, Path, dict], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    db, repo, _ = export_db
    case = _rows(db)["CustomOpNoFake"]["case_id"]
    script = tmp_path / "repro_export.py"
    assert main(["triage", "repro", case, "--db", str(db), "-o", str(script)]) == 0
    capsys.readouterr()
    proc = subprocess.run([sys.executable, str(script), str(repo), "--no-clone"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode != 0
    assert "FAILED (capture_failed) at stage export" in proc.stderr and "REPRODUCED" in proc.stderr


def test_an_export_that_hangs_ends_timeout_at_its_export_stage(tmp_path: Path, session_workdir: Path) -> None:
    repo = make_hang_repo(tmp_path)
    db = tmp_path / "hang.db"
    assert main(["crawl", "--db", str(db), "--repo", repo.as_uri(), "--workdir", str(session_workdir), "--export",
                 "--workers", "1", "--timeout", "20", "--wall-timeout", "20", "--no-progress",
                 *sandbox_flags()]) == 0
    (row,) = _rows(db).values()
    assert (row["status"], row["stage"]) == ("timeout", "export")
    assert row["reason"] == "wall_backstop"   # it sleeps: no CPU budget would ever end it
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
