"""Reports, compare, triage and repro over a database filled by a real crawl of the zoo."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from db.store import Store
from graphcrawl.cli import main
from tests.conftest import copy_db, sandbox_flags


def _report(db: Path, capsys: pytest.CaptureFixture) -> dict:
    assert main(["report", "--db", str(db), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _case(db: Path, qualname: str) -> str:
    with Store(db, readonly=True) as store:
        (row,) = store.db.query("select id from modules where qualname = ?", [qualname])
        return row["id"]


def test_rates_of_the_real_zoo_crawl(zoo_crawl: Path, capsys: pytest.CaptureFixture) -> None:
    rates = {r["name"]: r for r in _report(zoo_crawl, capsys)["rates"]}
    assert rates["eager"]["total"] == 11
    assert rates["eager"]["count"] == 8       # all but import/eager failures
    assert rates["captured"]["count"] == 7    # TokenGRU: Dynamo captured nothing
    assert rates["full_graph"]["count"] == 6  # BreaksGraph has breaks
    assert rates["passed"]["count"] == 6       # DropoutAlways: judged under identical RNG
    assert rates["passed"]["pct_of_runnable"] == pytest.approx(75.0)


def test_compare_exits_1_on_a_real_regression(zoo_crawl: Path, zoo_repo: Path, session_workdir: Path,
                                              tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = copy_db(zoo_crawl, tmp_path)
    with Store(db, readonly=True) as store:
        base = store.latest_run_id()
    assert main(["crawl", "--db", str(db), "--repo", zoo_repo.as_uri(), "--workdir", str(session_workdir),
                 "--fullgraph", "--run", "fullgraph", "--workers", "2", "--no-progress", *sandbox_flags()]) == 0
    capsys.readouterr()
    # the other way round: only improvements (timing noise on a shared machine aside)
    assert main(["report", "--db", str(db), "--compare", "fullgraph", base, "--speedup-ratio", "0.01"]) == 0
    capsys.readouterr()
    assert main(["report", "--db", str(db), "--compare", base, "fullgraph", "--format", "json"]) == 1
    out = capsys.readouterr().out
    assert "BreaksGraph" in out
    assert "SmallCNN" not in json.dumps(json.loads(out).get("newly_failing", out))


def test_triage_clusters_real_failures_apart(zoo_crawl: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["triage", "--db", str(zoo_crawl), "--format", "json", "--limit", "0"]) == 0
    clusters = json.loads(capsys.readouterr().out)["clusters"]
    where = {ex: c["id"] for c in clusters for ex in c["examples"]}
    raises, fancy = _case(zoo_crawl, "RaisesInForward"), _case(zoo_crawl, "NeedsFancy")
    assert where[raises] != where[fancy]
    by_id = {c["id"]: c for c in clusters}
    assert by_id[where[raises]]["error_type"] == "NotImplementedError"
    assert sum(c["count"] for c in clusters) == 5  # 11 cases, 6 pass


def test_repro_script_fails_alone_with_the_recorded_signature(zoo_crawl: Path, tmp_path: Path) -> None:
    case = _case(zoo_crawl, "CompiledDiffers")
    script = tmp_path / "repro.py"
    assert main(["triage", "--db", str(zoo_crawl), "repro", case, "-o", str(script)]) == 0
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "checkout")], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode != 0
    assert "AssertionError" in proc.stderr and "differs from eager" in proc.stderr
