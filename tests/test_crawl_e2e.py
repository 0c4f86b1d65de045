"""The spine end to end: a real crawl of the fixture zoo, each module in its status."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from db.store import Store
from graphcrawl.cli import main
from tests.conftest import copy_db, sandbox_flags
from tests.fixture_repos import EXPECTED


def _results(db: Path) -> dict[tuple[str, str], dict]:
    with Store(db, readonly=True) as store:
        rows = store.db.query(
            "select r.*, m.path, m.qualname, c.spec, c.found_by from results r "
            "join modules m on m.id = r.module_id join cases c on c.id = r.case_id")
        return {(row["path"], row["qualname"]): row for row in rows}


def test_every_fixture_module_ends_in_its_status(zoo_crawl: Path) -> None:
    got = {key: row["status"] for key, row in _results(zoo_crawl).items()}
    assert got == EXPECTED


def test_cnn_gets_a_three_channel_image(zoo_crawl: Path) -> None:
    row = _results(zoo_crawl)[("models.py", "SmallCNN")]
    (x,) = json.loads(row["spec"])["inputs"]["args"]
    assert x["dtype"] == "float32" and len(x["shape"]) == 4 and x["shape"][1] == 3
    assert row["graph_count"] == 1 and row["graph_break_count"] == 0
    assert row["compile_s"] > 0 and row["speedup"] > 0 and row["hook_ms"] > 0
    assert row["max_abs_err"] is not None and row["max_abs_err"] < 1e-3 and row["cosine"] > 0.999


def test_sequence_model_gets_token_ids_below_vocab(zoo_crawl: Path) -> None:
    row = _results(zoo_crawl)[("models.py", "TokenTagger")]
    spec = json.loads(row["spec"])
    vocab = spec["init"]["kwargs"]["vocab_size"]["value"]
    (ids,) = spec["inputs"]["args"]
    assert ids["dtype"] == "int64" and len(ids["shape"]) == 2
    assert ids["low"] >= 0 and ids["high"] <= vocab


def test_a_frame_dynamo_skips_is_not_counted_as_captured(zoo_crawl: Path) -> None:
    row = _results(zoo_crawl)[("models.py", "TokenGRU")]
    assert row["stage"] == "capture" and row["graph_count"] == 0
    assert "RNN" in row["error_msg"] and json.loads(row["break_ids"]) == ["GB0014"]


def test_graph_breaks_are_counted_with_reasons(zoo_crawl: Path) -> None:
    row = _results(zoo_crawl)[("models.py", "BreaksGraph")]
    assert row["graph_break_count"] >= 1 and row["graph_count"] >= 2
    reasons = json.loads(row["break_reasons"])
    assert any("item" in r.lower() for r in reasons)
    assert any(i.startswith("GB") for i in json.loads(row["break_ids"]))


def test_parity_failure_records_error_metrics(zoo_crawl: Path) -> None:
    row = _results(zoo_crawl)[("models.py", "CompiledDiffers")]
    assert row["stage"] == "parity" and row["max_abs_err"] == pytest.approx(1.0, abs=1e-4)


def test_config_object_is_stored_as_the_attributes_read(zoo_crawl: Path) -> None:
    spec = json.loads(_results(zoo_crawl)[("models.py", "NeedsConfig")]["spec"])
    cfg = spec["init"]["kwargs"]["config"]
    assert cfg["kind"] == "config" and set(cfg["attrs"]) == {"hidden_size", "intermediate_size"}


def test_rng_dependence_is_judged_under_identical_rng_and_flagged(zoo_crawl: Path) -> None:
    """Dropout in forward: both sides draw the same numbers (same seeds, fallback_random)."""
    row = _results(zoo_crawl)[("models.py", "DropoutAlways")]
    assert row["rng_dependent"] == 1 and row["nondeterministic"] == 0
    assert row["status"] == "pass" and row["max_abs_err"] <= 1e-3


def test_missing_package_is_stubbed_and_recorded(zoo_crawl: Path) -> None:
    rows = _results(zoo_crawl)
    assert "not_a_real_package_xyz" in json.loads(rows[("extra/uses_missing.py", "PlainMLP")]["stubs"])
    needs = rows[("extra/uses_missing.py", "NeedsFancy")]
    assert "no tensor" in needs["error_msg"]


def test_import_error_and_syntax_error_are_recorded(zoo_crawl: Path) -> None:
    row = _results(zoo_crawl)[("extra/broken_import.py", "NeverLoads")]
    assert row["error_type"] == "RuntimeError" and "dataset file" in row["error_msg"]
    with Store(zoo_crawl, readonly=True) as store:
        (repo,) = store.repos()
        assert repo["status"] == "scanned" and "syntax_error.py" in repo["error"]
        assert len(repo["sha"]) == 40
        (run,) = store.runs()
        assert run["torch"].startswith("2.") and run["backend"] == "inductor" and run["ended_at"]


def test_same_crawl_again_resumes_without_rerunning(zoo_crawl: Path, zoo_repo: Path, session_workdir: Path,
                                                    tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = copy_db(zoo_crawl, tmp_path)
    before = sqlite3.connect(db).execute("select count(*), max(finished_at) from results").fetchone()
    assert main(["crawl", "--db", str(db), "--repo", zoo_repo.as_uri(), "--workdir", str(session_workdir),
                 "--no-progress", *sandbox_flags()]) == 0
    after = sqlite3.connect(db).execute("select count(*), max(finished_at) from results").fetchone()
    assert after == before


def test_new_run_replays_the_stored_cases(zoo_crawl: Path, zoo_repo: Path, session_workdir: Path,
                                          tmp_path: Path) -> None:
    db = copy_db(zoo_crawl, tmp_path)
    specs_before = dict(sqlite3.connect(db).execute("select id, spec from cases"))
    assert main(["crawl", "--db", str(db), "--repo", zoo_repo.as_uri(), "--workdir", str(session_workdir),
                 "--backend", "eager", "--run", "replay", "--workers", "2", "--no-progress",
                 *sandbox_flags()]) == 0
    conn = sqlite3.connect(db)
    assert dict(conn.execute("select id, spec from cases")) == specs_before
    statuses = dict(conn.execute(
        "select m.qualname, r.status from results r join modules m on m.id = r.module_id where run_id = 'replay'"))
    assert statuses["SmallCNN"] == "pass" and statuses["CompiledDiffers"] == "parity_failed"
    assert statuses["RaisesInForward"] == "eager_failed"
