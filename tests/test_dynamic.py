"""`crawl --dynamic-shapes`: the compiled module on inputs of new sizes, each fixture module where it should be.

Real git repo, real sandboxed workers, real torch.compile (aot_eager: Dynamo's
guards and recompiles are what is tested, not Inductor). The crawl deduces the
cases itself (no inference run before it), as a first crawl with the flag does.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from capture.checks.dynamic import derive_sizes
from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.dbrows import results_by_qualname
from tests.fixture_repos import EXPECTED_DYNAMIC, make_gradzoo


@pytest.fixture(scope="module")
def dynamic_db(tmp_path_factory: pytest.TempPathFactory, session_workdir: Path) -> Path:
    root = tmp_path_factory.mktemp("gradzoo-dyn")
    repo = make_gradzoo(root)
    db = root / "dyn.db"
    assert main(["crawl", "--db", str(db), "--repo", repo.as_uri(), "--workdir", str(session_workdir),
                 "--backend", "aot_eager", "--dynamic-shapes", "--workers", "1", "--timeout", "240",
                 "--no-progress", *sandbox_flags()]) == 0
    return db


def test_the_run_is_named_and_marked_dynamic(dynamic_db: Path) -> None:
    ((run, check),) = sqlite3.connect(dynamic_db).execute('select id, "check" from runs')
    assert run.endswith("-aot_eager-dynamic") and check == "dynamic"


@pytest.mark.parametrize("qualname", sorted(EXPECTED_DYNAMIC))
def test_recompiles_per_new_batch_size(dynamic_db: Path, qualname: str) -> None:
    status, per_batch = EXPECTED_DYNAMIC[qualname]
    row = results_by_qualname(dynamic_db)[qualname]
    assert row["status"] == status
    sizes = {s["size"]: s for s in json.loads(row["sizes"])}
    got = [sizes[f"batch={b}"].get("recompiles") for b in (3, 4, 7)]
    assert got == per_batch


def test_every_recompile_has_torchs_guard_failure_reason(dynamic_db: Path) -> None:
    row = results_by_qualname(dynamic_db)["LoopsOverBatch"]
    reasons = json.loads(row["recompile_reasons"])
    assert row["recompiles"] == len(reasons) == 3
    assert all("size mismatch at index 0" in r for r in reasons)


def test_automatic_dynamism_keeps_one_graph_and_dynamic_true_passes(dynamic_db: Path) -> None:
    row = results_by_qualname(dynamic_db)["TrainsFine"]
    assert row["recompiles"] == 1 and row["dynamic_true"] == "pass"
    assert all(s["parity"] for s in json.loads(row["sizes"]))


def test_a_size_eager_rejects_is_not_counted_against_the_compiler(dynamic_db: Path) -> None:
    row = results_by_qualname(dynamic_db)["PairsOnly"]
    sizes = {s["size"]: s for s in json.loads(row["sizes"])}
    assert sizes["batch=3"]["eager"] == "rejected" and "shape" in sizes["batch=3"]["error"]
    assert row["sizes_rejected"] == 2 and row["sizes_tried"] == 1 and row["status"] == "pass"


def test_sequence_and_spatial_lengths_follow_the_input_family() -> None:
    ids = {"args": [{"kind": "tensor", "shape": [2, 8], "dtype": "int64", "low": 0, "high": 10}], "kwargs": {
        "mask": {"kind": "tensor", "shape": [2, 8], "dtype": "bool"}}}
    labels = [label for label, _ in derive_sizes(ids, ["name:ids"])]
    assert labels == ["batch=3", "batch=4", "batch=7", "length=12"]
    (_, longer) = derive_sizes(ids, ["name:ids"])[-1]
    assert longer["args"][0]["shape"] == [2, 12] and longer["kwargs"]["mask"]["shape"] == [2, 12]
    image = {"args": [{"kind": "tensor", "shape": [2, 3, 32, 32], "dtype": "float32"}], "kwargs": {}}
    (_, bigger) = derive_sizes(image, ["layer:conv2d"])[-1]
    assert bigger["args"][0]["shape"] == [2, 3, 48, 48]
    vector = {"args": [{"kind": "tensor", "shape": [2, 16], "dtype": "float32"}], "kwargs": {}}
    assert [label for label, _ in derive_sizes(vector, ["layer:linear"])] == ["batch=3", "batch=4", "batch=7"]


def test_report_shows_recompiles_and_their_reasons(dynamic_db: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    assert main(["report", "--db", str(dynamic_db), "--format", "json"]) == 0
    rc = json.loads(capsys.readouterr().out)["recompiles"]
    assert rc["cases"] == 7 and sum(b["count"] for b in rc["buckets"]) == 7
    assert {"recompiles": "3", "count": 1} in rc["buckets"]          # LoopsOverBatch
    assert "size mismatch at index" in rc["reasons"][0]["reason"] and rc["sizes_rejected"] == 2
    page = tmp_path / "dynamic.html"
    assert main(["report", "--db", str(dynamic_db), "--html", str(page)]) == 0
    assert 'id="recompile-reasons-chart-host"' in page.read_text()
    capsys.readouterr()
    assert main(["triage", "--db", str(dynamic_db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["failures"] == 0


def test_a_graph_grows_its_adjacency_with_its_node_count() -> None:
    graph = {"args": [{"kind": "tensor", "shape": [2, 16], "dtype": "float32"},
                      {"kind": "tensor", "shape": [2, 2], "dtype": "float32", "low": 0, "high": 1}], "kwargs": {}}
    (_, three), *_ = derive_sizes(graph, ["generic:vector", "name:adjacency"])
    assert [t["shape"] for t in three["args"]] == [[3, 16], [3, 3]]
