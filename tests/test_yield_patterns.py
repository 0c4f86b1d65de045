"""Issue 10's yield patterns, each in a fixture repo, through a real crawl (bwrap workers, eager backend).

Each module must reach its expected status and reason (tests/yield_repos.py);
the stubs and rules it records say which mechanism got it there, and a second
run replays the stored specs to the same statuses.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from db.store import Store
from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.yield_repos import EXPECTED, make_yield_repo


def _crawl(db: Path, repo: Path, workdir: Path, run: str) -> None:
    rc = main(["crawl", "--db", str(db), "--repo", repo.as_uri(), "--workdir", str(workdir), "--backend", "eager",
               "--workers", "1", "--timeout", "120", "--run", run, "--no-progress", *sandbox_flags()])
    assert rc == 0


@pytest.fixture(scope="module")
def yield_crawl(tmp_path_factory: pytest.TempPathFactory, session_workdir: Path) -> Path:
    root = tmp_path_factory.mktemp("yieldrepos")
    os.chmod(root, 0o755)
    repo = make_yield_repo(root)
    db = tmp_path_factory.mktemp("yielddb") / "yield.db"
    _crawl(db, repo, session_workdir, "first")
    _crawl(db, repo, session_workdir, "replay")
    return db


def _results(db: Path, run: str) -> dict[tuple[str, str], dict]:
    with Store(db, readonly=True) as store:
        rows = store.db.query(
            "select r.*, m.path, m.qualname, c.spec, c.found_by from results r join modules m on m.id = r.module_id "
            "join cases c on c.id = r.case_id where r.run_id = ?", [run])
        return {(row["path"], row["qualname"]): row for row in rows}


def test_every_pattern_reaches_its_status_and_reason(yield_crawl: Path) -> None:
    got = {key: (row["status"], row["reason"]) for key, row in _results(yield_crawl, "first").items()}
    assert got == EXPECTED


def test_replay_of_the_stored_specs_reaches_the_same_statuses(yield_crawl: Path) -> None:
    got = {key: row["status"] for key, row in _results(yield_crawl, "replay").items()}
    assert got == {key: status for key, (status, _) in EXPECTED.items()}


def test_a_package_below_the_repo_root_is_found_not_stubbed(yield_crawl: Path) -> None:
    row = _results(yield_crawl, "first")[("src/train/model/net.py", "EDSRLike")]
    assert json.loads(row["stubs"] or "[]") == []


def test_never_built_extensions_are_stubbed_alone_and_recorded(yield_crawl: Path) -> None:
    rows = _results(yield_crawl, "first")
    assert json.loads(rows[("mylib/layers.py", "Lin")]["stubs"]) == ["mylib._C"]
    assert json.loads(rows[("third_party/vend/ops/layers.py", "Pooled")]["stubs"]) == ["third_party.vend.ops._ext"]
    assert json.loads(rows[("jit/model.py", "JitUser")]["stubs"]) == ["fused_ops (cpp_extension)"]


def test_stand_ins_survive_protocol_calls_and_version_checks(yield_crawl: Path) -> None:
    row = _results(yield_crawl, "first")[("vend_checks.py", "Mixed")]
    assert json.loads(row["stubs"]) == ["mmcv_gc_fixture", "wonky_gc_fixture"]


def test_a_pretrained_flag_is_turned_off_instead_of_downloading(yield_crawl: Path) -> None:
    row = _results(yield_crawl, "first")[("hub.py", "SkipsPretrained")]
    spec = json.loads(row["spec"])
    assert spec["init"]["kwargs"]["pretrained"] == {"kind": "const", "value": False}
    assert "init:no-pretrained" in json.loads(row["found_by"])
    failed = _results(yield_crawl, "first")[("hub.py", "AlwaysDownloads")]
    assert failed["error_type"] == "URLError"


def test_factory_and_instance_arguments_come_from_the_repo(yield_crawl: Path) -> None:
    rows = _results(yield_crawl, "first")
    conv = json.loads(rows[("src/train/model/common.py", "ResBlock")]["spec"])["init"]["kwargs"]["conv"]
    assert conv["kind"] == "function" and conv["name"] == "default_conv"
    attn = json.loads(rows[("models/encoder.py", "EncoderLayer")]["spec"])["init"]["kwargs"]["attention"]
    assert attn["kind"] == "instance" and attn["name"] == "FullAttention"
    row = rows[("wrappers.py", "PreNormResidual")]
    assert json.loads(row["spec"])["init"]["kwargs"]["wrapped_thing"] == {"kind": "module", "name": "Identity"}
    assert "init:called-later" in json.loads(row["found_by"])


def test_the_run_records_its_crawl_environment(yield_crawl: Path) -> None:
    with Store(yield_crawl, readonly=True) as store:
        packages = json.loads(store.run("first")["packages"])
    assert packages["torch"] == torch.__version__.split("+")[0] or packages["torch"] == torch.__version__
    assert set(packages) >= {"numpy", "pillow", "pandas", "einops", "torchvision"}


def test_report_shows_reason_classes_and_the_stubs_runnable_cases_need(yield_crawl: Path, capsys) -> None:
    assert main(["report", "--db", str(yield_crawl), "--run", "first", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    reasons = {(r["status"], r["reason"]): r["count"] for r in data["case_reasons"]}
    assert reasons == {("eager_failed", "not_a_model"): 2, ("init_failed", "not_a_model"): 1,
                       ("init_failed", "needs_network"): 1}
    dep = data["yield"]["runnable_stubs"]
    runnable = sum(1 for status, _ in EXPECTED.values() if status == "pass")
    assert dep["runnable"] == runnable
    # Lin, Pooled, JitUser, the three of vend_checks, FullBias, and CudaEverywhere where no GPU
    assert dep["no_stub"] == runnable - 7 - (0 if torch.cuda.is_available() else 1)
    assert {s["package"] for s in dep["stubs"]} >= {"mylib._C", "mmcv_gc_fixture"}


def test_gpu_era_calls_are_answered_on_the_cpu_and_recorded(yield_crawl: Path) -> None:
    from capture.loading.stub_torch import CUDA_MARK, INT_PARAM_MARK
    rows = _results(yield_crawl, "first")
    cuda = json.loads(rows[("gpu_era.py", "CudaEverywhere")]["stubs"])
    assert cuda == ([] if torch.cuda.is_available() else [CUDA_MARK])
    assert json.loads(rows[("old_torch.py", "FullBias")]["stubs"]) == [INT_PARAM_MARK]
    grid = rows[("old_torch.py", "GridOnDevice")]
    assert json.loads(grid["spec"])["init"]["kwargs"]["device"] == {"kind": "const", "value": "cpu"}
    assert json.loads(grid["stubs"]) == []
    replay = _results(yield_crawl, "replay")
    assert json.loads(replay[("old_torch.py", "FullBias")]["stubs"]) == [INT_PARAM_MARK]


def test_input_size_relations_rebuild_with_same_padding_and_index_the_input(yield_crawl: Path) -> None:
    rows = _results(yield_crawl, "first")
    res = rows[("blocks.py", "ZeroPadResidual")]
    assert "init:same-padding" in json.loads(res["found_by"])
    assert json.loads(res["spec"])["init"]["kwargs"]["padding"] == {"kind": "const", "value": 1}
    pair = json.loads(rows[("blocks.py", "RealImagConv")]["spec"])["inputs"]["args"][0]
    assert len(pair["shape"]) == 5 and pair["shape"][1] == 2
    skip = json.loads(rows[("blocks.py", "UpWithSkip")]["spec"])["inputs"]["args"]
    assert skip[1]["shape"][2] == 2 * skip[0]["shape"][2]
    checked = rows[("blocks.py", "CheckedInput")]
    assert "static:shape-check" in json.loads(checked["found_by"])
    up = rows[("blocks.py", "UpPadded")]
    assert "fix:rank-4d" in json.loads(up["found_by"])
    assert all(len(a["shape"]) == 4 for a in json.loads(up["spec"])["inputs"]["args"])


def test_a_name_the_package_forgot_to_export_comes_from_its_own_module(yield_crawl: Path) -> None:
    row = _results(yield_crawl, "first")[("exports/net.py", "GatedNet")]
    assert json.loads(row["stubs"] or "[]") == []
