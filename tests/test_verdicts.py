"""Verdicts a compiler engineer can trust: the same on a busy machine, confirmed before they are the compiler's.

Real fixture repos crawled by real sandboxed workers: CPU budgets (not wall
clock) bound a case, a killed case keeps what it measured, every compiler
failure is rerun once in a fresh process (flaky when not repeated), and a
forward with no tensor operation gets the same verdict from every check.
No wall-clock thresholds: the tests assert statuses and recorded fields.
"""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.dbrows import results_by_qualname
from tests.verdict_repos import make_burnzoo, make_verdictzoo


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory, session_workdir: Path) -> Path:
    """The verdict zoo through inference, training and dynamic shapes (backend eager: the
    verdicts are Dynamo's and graphcrawl's, not Inductor's)."""
    root = tmp_path_factory.mktemp("verdictzoo")
    repo = make_verdictzoo(root)
    db = root / "verdicts.db"
    common = ["--db", str(db), "--repo", repo.as_uri(), "--workdir", str(session_workdir), "--backend", "eager",
              "--workers", "1", "--timeout", "120", "--no-progress", *sandbox_flags()]
    for extra in ([], ["--training"], ["--dynamic-shapes"]):
        assert main(["crawl", *common, *extra]) == 0
    return db


def test_a_failure_its_rerun_does_not_repeat_is_flaky_with_both_outcomes(verdicts: Path) -> None:
    row = results_by_qualname(verdicts, "%-eager")["WrongOnFirstRunOnly"]
    assert (row["status"], row["stage"], row["flaky"]) == ("parity_failed", "parity", 1)
    rerun = json.loads(row["rerun"])
    assert rerun["status"] == "pass" and row["rerun_s"] > 0


def test_a_failure_that_repeats_is_confirmed(verdicts: Path) -> None:
    row = results_by_qualname(verdicts, "%-eager")["WrongEveryTime"]
    assert (row["status"], row["stage"], row["flaky"]) == ("parity_failed", "parity", 0)
    assert json.loads(row["rerun"])["status"] == "parity_failed"


def test_triage_lists_confirmed_compiler_failures_then_flaky_ones(verdicts: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    run = next(r for r in _runs(verdicts) if r.endswith("-eager"))
    assert main(["triage", "--db", str(verdicts), "--run", run, "--format", "json"]) == 0
    clusters = json.loads(capsys.readouterr().out)["clusters"]
    kinds = [c["kind"] for c in clusters]
    assert kinds.index("compiler") < kinds.index("flaky")
    assert [c["examples"][0].rsplit(":", 1)[1] for c in clusters if c["kind"] == "flaky"] == ["WrongOnFirstRunOnly"]
    assert main(["triage", "--db", str(verdicts), "--run", run, "--kind", "compiler", "--format", "json"]) == 0
    compiler = json.loads(capsys.readouterr().out)["clusters"]
    assert {c["examples"][0].rsplit(":", 1)[1] for c in compiler} == {"WrongEveryTime"}
    assert main(["report", "--db", str(verdicts), "--run", run, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["confirmation"]["reruns"], data["confirmation"]["flaky"]) == (2, 1)
    assert {s["kind"]: s["count"] for s in data["failure_split"]}["flaky"] == 1


def test_nondeterministic_eager_ends_after_the_compile_without_parity_or_timing(verdicts: Path) -> None:
    row = results_by_qualname(verdicts, "%-eager")["ChangesEveryCall"]
    assert (row["status"], row["nondeterministic"]) == ("eager_nondeterministic", 1)
    assert row["compile_s"] is not None and row["graph_count"] >= 1      # the compiler still ran
    assert row["max_abs_err"] is None and row["speedup"] is None        # no verdict on numbers, no timing
    assert "timing" not in json.loads(row["stage_s"])


def test_no_tensor_operation_gets_the_same_verdict_from_every_check(verdicts: Path) -> None:
    """The one step that judges "Dynamo captured nothing" serves every check: never the compiler's."""
    got = {run.rsplit("-", 1)[-1]: (r["status"], r["reason"]) for run in _runs(verdicts)
           for q, r in results_by_qualname(verdicts, run).items() if q == "ReturnsInput"}
    assert got["eager"] == ("capture_failed", "no_tensor_ops")
    assert got["dynamic"] == ("capture_failed", "no_tensor_ops")
    assert got["training"] == ("eager_failed", "no_parameters")   # nothing to train comes first
    assert all(r["rerun"] is None for r in results_by_qualname(verdicts).values() if r["qualname"] == "ReturnsInput")


def test_compare_never_counts_a_flaky_case_as_a_regression(verdicts: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    """Run A: the case passed; run B: it failed but was flaky. No regression, listed apart."""
    import shutil
    db = tmp_path / "cmp.db"
    shutil.copy(verdicts, db)
    conn = sqlite3.connect(db)
    run = next(r for r in _runs(db) if r.endswith("-eager"))
    conn.execute("insert into runs (id, torch, backend, device, started_at) select 'before', torch, backend, "
                 "device, '2000-01-01' from runs where id = ?", [run])
    cols = [c[1] for c in conn.execute("pragma table_info(results)")]
    sel = ", ".join("'before'" if c == "run_id" else "'pass'" if c == "status" else "'done'" if c == "stage"
                    else "null" if c in ("flaky", "rerun", "error_type", "error_msg") else c for c in cols)
    conn.execute(f"insert into results ({', '.join(cols)}) select {sel} from results where run_id = ?", [run])
    conn.commit()
    assert main(["report", "--db", str(db), "--compare", "before", run, "--format", "json"]) == 1  # WrongEveryTime
    cmp = json.loads(capsys.readouterr().out)
    failing = {r["case_id"].rsplit(":", 1)[1] for r in cmp["newly_failing"]}
    assert "WrongEveryTime" in failing and "WrongOnFirstRunOnly" not in failing
    assert [r["case_id"].rsplit(":", 1)[1] for r in cmp["flaky"]] == ["WrongOnFirstRunOnly"]


def _runs(db: Path) -> list[str]:
    return [r for (r,) in sqlite3.connect(db).execute("select id from runs order by started_at, rowid")]


@pytest.fixture(scope="module")
def burnzoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_burnzoo(tmp_path_factory.mktemp("burnzoo"))


def _crawl_burn(db: Path, repo: Path, workdir: Path, timeout: str, run: str) -> dict:
    assert main(["crawl", "--db", str(db), "--repo", repo.as_uri(), "--workdir", str(workdir), "--workers", "1",
                 "--timeout", timeout, "--run", run, "--no-progress", *sandbox_flags()]) == 0
    return results_by_qualname(db, run)["BurnsAtCompile"]


def test_a_compile_past_its_cpu_budget_is_a_timeout_that_keeps_its_capture(burnzoo: Path, tmp_path: Path,
                                                                           session_workdir: Path) -> None:
    row = _crawl_burn(tmp_path / "burn.db", burnzoo, session_workdir, "10", "small-budget")
    assert (row["status"], row["stage"], row["reason"]) == ("timeout", "compile", "cpu_budget")
    assert "CPU" in row["error_msg"]
    assert row["graph_count"] == 1 and row["op_count"] >= 1      # what capture counted before the compile, kept
    assert row["traces"] == 1           # one trace: the graph is counted inside the compile's own trace
    stages = json.loads(row["stage_s"])
    assert {"import", "eager", "compile"} <= set(stages) and stages["compile"] > 0
    assert row["case_cpu_s"] >= 10
    assert json.loads(row["rerun"])["status"] == "timeout" and row["flaky"] == 0   # confirmed


def test_a_generous_cpu_budget_passes_on_a_saturated_machine(burnzoo: Path, tmp_path: Path,
                                                            session_workdir: Path) -> None:
    """Two processes that spin for the whole crawl: the case's wall time grows, its verdict does not."""
    spin = "import time\nend = time.time() + 900\nwhile time.time() < end: pass\n"
    busy = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(os.cpu_count() or 2)]
    try:
        row = _crawl_burn(tmp_path / "burn.db", burnzoo, session_workdir, "200", "saturated")
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert row["status"] == "pass", row["error_msg"]
    assert row["case_cpu_s"] >= 15 and row["rerun"] is None


def test_past_the_wall_backstop_only_a_case_that_sleeps_ends() -> None:
    """The rule the worker applies at its wall-clock backstop (the sleeping side is crawled for real
    in tests/test_export.py and the deduction hang of tests/test_triage_edges.py)."""
    from capture.workers.worker import stalled
    budget, backstop = 300.0, 1200.0
    assert not stalled(1000.0, 10.0, backstop, budget)         # before the backstop: never
    assert stalled(1201.0, 3.0, backstop, budget)              # sleeping: a few CPU seconds in 20 minutes
    assert not stalled(1201.0, 240.0, backstop, budget)        # a compile at a fifth of a core goes on
    assert not stalled(1201.0, 80.0, backstop, budget)         # ... and at a fifteenth
