"""`crawl --training`: a run of its own over the stored cases, each fixture module ending where it should.

Real git repo, real sandboxed workers, real torch.compile (aot_eager: AOTAutograd
traces and runs the joint forward/backward graph; Inductor is not what is tested).
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.dbrows import results_by_qualname
from tests.fixture_repos import EXPECTED_GRAD_INFERENCE, EXPECTED_TRAINING, make_gradzoo


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory, session_workdir: Path) -> tuple[Path, dict, dict]:
    """An inference crawl of the gradzoo, then --training over the same stored cases."""
    root = tmp_path_factory.mktemp("gradzoo")
    repo = make_gradzoo(root)
    db = root / "grad.db"
    common = ["--db", str(db), "--repo", repo.as_uri(), "--workdir", str(session_workdir), "--backend", "aot_eager",
              "--workers", "1", "--timeout", "240", "--no-progress", *sandbox_flags()]
    assert main(["crawl", *common]) == 0
    specs_before = dict(sqlite3.connect(db).execute("select id, spec from cases"))
    assert main(["crawl", *common, "--training"]) == 0
    return db, specs_before, dict(sqlite3.connect(db).execute("select id, spec from cases"))


def test_training_is_a_run_of_its_own_over_the_same_cases(crawled: tuple[Path, dict, dict]) -> None:
    db, before, after = crawled
    assert before == after and all(before.values())
    runs = dict(sqlite3.connect(db).execute('select id, "check" from runs'))
    (train_run,) = [r for r in runs if r.endswith("-training")]
    assert runs[train_run] == "training" and runs[train_run[: -len("-training")]] == "inference"


def test_inference_passes_every_gradzoo_module(crawled: tuple[Path, dict, dict]) -> None:
    got = {q: r["status"] for q, r in results_by_qualname(crawled[0], "%-aot_eager").items()}
    assert got == EXPECTED_GRAD_INFERENCE


def test_each_module_ends_where_it_should_in_training(crawled: tuple[Path, dict, dict]) -> None:
    got = {q: (r["status"], r["stage"], r["reason"]) for q, r in results_by_qualname(crawled[0], "%-training").items()}
    assert got == EXPECTED_TRAINING


def test_a_passing_module_records_backward_graphs_and_speedup(crawled: tuple[Path, dict, dict]) -> None:
    row = results_by_qualname(crawled[0], "%-training")["TrainsFine"]
    assert row["backward_graphs"] == 1 and row["backward_compile_s"] > 0
    assert row["speedup"] > 0 and row["max_abs_err"] < 1e-3 and row["graph_count"] == 1
    stages = json.loads(row["stage_s"])
    assert {"eager", "compile", "backward", "parity", "timing"} <= set(stages)


def test_dropout_in_training_passes_under_identical_rng_and_stays_flagged(crawled: tuple[Path, dict, dict]) -> None:
    row = results_by_qualname(crawled[0], "%-training")["DropsOut"]
    assert (row["status"], row["rng_dependent"], row["nondeterministic"]) == ("pass", 1, 0)
    assert row["max_abs_err"] is not None and row["max_abs_err"] <= 1e-3


def test_a_wrong_backward_names_the_gradient_that_differs(crawled: tuple[Path, dict, dict]) -> None:
    row = results_by_qualname(crawled[0], "%-training")["WrongGradUnderCompile"]
    assert "gradient lin.weight.grad" in row["error_msg"] or "gradient lin.bias.grad" in row["error_msg"]
    assert row["max_abs_err"] > 1e-3


def test_a_backward_that_cannot_be_traced_is_a_backward_compile_failure(crawled: tuple[Path, dict, dict]) -> None:
    row = results_by_qualname(crawled[0], "%-training")["BackwardWontCompile"]
    assert "fake impl" in row["error_msg"] and "scale3_grad" in row["error_msg"]


def test_report_compare_and_triage_work_on_the_training_run(crawled: tuple[Path, dict, dict],
                                                            capsys: pytest.CaptureFixture) -> None:
    db = crawled[0]
    runs = [r for (r,) in sqlite3.connect(db).execute("select id from runs order by started_at, rowid")]
    assert main(["report", "--db", str(db), "--run", runs[1], "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cases"] == len(EXPECTED_TRAINING)
    assert main(["report", "--db", str(db), "--compare", runs[0], runs[1], "--format", "json"]) == 1
    cmp = json.loads(capsys.readouterr().out)
    assert {r["case_id"].rsplit(":", 1)[1] for r in cmp["newly_failing"]} >= {"WrongGradUnderCompile",
                                                                                "BackwardWontCompile"}
    assert main(["triage", "--db", str(db), "--run", runs[1], "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["failures"] >= 2


def test_report_shows_checks_side_by_side_and_where_the_time_goes(crawled: tuple[Path, dict, dict],
                                                                  tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    db = crawled[0]
    runs = [r for (r,) in sqlite3.connect(db).execute("select id from runs order by started_at, rowid")]
    assert main(["report", "--db", str(db), "--run", runs[1], "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    checks = {c["check"]: c for c in data["checks"]}
    n = len(EXPECTED_TRAINING)
    assert checks["inference"]["passed"] == n and checks["training"]["passed"] == 4
    assert data["training"]["backward_graphs"] == [{"graphs": "1", "count": 5}]  # all that compiled a backward
    assert main(["report", "--db", str(db), "--run", runs[0], "--format", "json"]) == 0
    shares = json.loads(capsys.readouterr().out)["time_shares"]["pass"]
    names = {s["stage"] for s in shares["stages"]}
    assert {"capture", "compile", "hook", "timing", "other"} <= names and shares["cases"] == n
    assert abs(sum(s["share"] for s in shares["stages"]) - 1.0) < 1e-6
    page = tmp_path / "training.html"
    assert main(["report", "--db", str(db), "--run", runs[1], "--html", str(page)]) == 0
    text = page.read_text()
    assert "Where the time goes" in text and 'id="backward-graphs-chart-host"' in text
