"""Issue 19's deducer patterns and stub use, each in a fixture repo, through a real crawl (bwrap workers).

`crawl --check eager` runs each module of tests/deduce_repos.py to eager; the
statuses, the specs the deducer found and the stubs each case used once
imported (results.stubs_used) are asserted, and an inference run with the
eager backend replays the stored specs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from db.store import Store
from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.deduce_repos import EXPECTED, STUBS, USED, make_deduce_repo


def _crawl(db: Path, repo: Path, workdir: Path, *extra: str) -> None:
    rc = main(["crawl", "--db", str(db), "--repo", repo.as_uri(), "--workdir", str(workdir), "--backend", "eager",
               "--workers", "1", "--timeout", "120", "--no-progress", *sandbox_flags(), *extra])
    assert rc == 0


@pytest.fixture(scope="module")
def deduce_crawl(tmp_path_factory: pytest.TempPathFactory, session_workdir: Path) -> Path:
    root = tmp_path_factory.mktemp("deducerepos")
    os.chmod(root, 0o755)
    repo = make_deduce_repo(root)
    db = tmp_path_factory.mktemp("deducedb") / "deduce.db"
    _crawl(db, repo, session_workdir, "--check", "eager", "--run", "eager")
    _crawl(db, repo, session_workdir, "--run", "replay")
    return db


def _results(db: Path, run: str) -> dict[tuple[str, str], dict]:
    with Store(db, readonly=True) as store:
        rows = store.db.query(
            "select r.*, m.path, m.qualname, c.spec, c.found_by from results r join modules m on m.id = r.module_id "
            "join cases c on c.id = r.case_id where r.run_id = ?", [run])
        return {(row["path"], row["qualname"]): row for row in rows}


def _kwargs(row: dict) -> dict:
    return json.loads(row["spec"])["init"]["kwargs"]


def test_every_pattern_runs_in_the_eager_check(deduce_crawl: Path) -> None:
    got = {key: row["status"] for key, row in _results(deduce_crawl, "eager").items()}
    assert got == EXPECTED


def test_the_replay_of_the_stored_specs_passes(deduce_crawl: Path) -> None:
    got = {key: row["status"] for key, row in _results(deduce_crawl, "replay").items()}
    assert got == {key: "pass" for key in EXPECTED}


def test_a_layer_called_through_forward_shapes_the_input(deduce_crawl: Path) -> None:
    row = _results(deduce_crawl, "eager")[("attn.py", "SelfAttention")]
    spec = json.loads(row["spec"])
    width = _kwargs(row)["embed_count"]["value"]
    assert spec["inputs"]["args"][0]["shape"][-1] == width  # the k_proj Linear's in_features
    assert any(rule.startswith("layer:linear") for rule in json.loads(row["found_by"]))


def test_a_mask_is_varied_with_the_sequence_input(deduce_crawl: Path) -> None:
    row = _results(deduce_crawl, "eager")[("masked.py", "MaskedAttention")]
    state, mask = json.loads(row["spec"])["inputs"]["args"]
    assert len(state["shape"]) == 3 and mask["dtype"] == "bool"
    assert any(rule.startswith("name:mask") for rule in json.loads(row["found_by"]))


def test_a_module_annotated_argument_is_a_layer(deduce_crawl: Path) -> None:
    row = _results(deduce_crawl, "eager")[("wrap.py", "Stem")]
    assert _kwargs(row)["wrapped_module"] == {"kind": "module", "name": "Identity"}


def test_growth_rate_is_an_int_channel_count(deduce_crawl: Path) -> None:
    rows = _results(deduce_crawl, "eager")
    for key in (("dense.py", "DenseLayer"), ("dense.py", "DenseBlock")):
        growth = _kwargs(rows[key])["growth_rate"]["value"]
        assert isinstance(growth, int) and growth > 0


def test_tensor_data_arguments_are_sequences(deduce_crawl: Path) -> None:
    kwargs = _kwargs(_results(deduce_crawl, "eager")[("common.py", "MeanShift")])
    for name in ("rgb_mean", "rgb_std"):
        assert kwargs[name]["kind"] == "list" and len(kwargs[name]["items"]) == 3


def test_size_form_tensor_arguments_stay_ints(deduce_crawl: Path) -> None:
    rows = _results(deduce_crawl, "eager")
    for key, names in ((("sizes.py", "NoisyLinear"), ("in_features", "out_features")),
                       (("sizes.py", "ChannelNorm"), ("num_features",))):
        kwargs = _kwargs(rows[key])
        assert all(kwargs[n]["kind"] == "const" and isinstance(kwargs[n]["value"], int) for n in names)


def test_stubs_used_says_which_stubs_the_case_leaned_on(deduce_crawl: Path) -> None:
    for run in ("eager", "replay"):
        rows = _results(deduce_crawl, run)
        assert {key: json.loads(row["stubs"] or "[]") for key, row in rows.items() if key in STUBS} == STUBS
        assert {key: json.loads(row["stubs_used"]) for key, row in rows.items() if row["stubs_used"] != "[]"} == USED
        assert all(row["stubs_used"] is not None for row in rows.values())  # every case ran in eager


def test_report_gives_both_no_stub_figures(deduce_crawl: Path, capsys) -> None:
    assert main(["report", "--db", str(deduce_crawl), "--run", "eager", "--format", "json"]) == 0
    dep = json.loads(capsys.readouterr().out)["yield"]["runnable_stubs"]
    assert dep["runnable"] == len(EXPECTED) and dep["use_known"] == len(EXPECTED)
    assert dep["no_stub"] == len(EXPECTED) - len(STUBS)  # what the import asked for
    assert dep["no_stub_used"] == len(EXPECTED) - len(USED)  # what the case touched once imported


def test_probabilities_are_drawn_in_the_unit_range_where_a_loss_needs_them(deduce_crawl: Path) -> None:
    row = _results(deduce_crawl, "eager")[("losses.py", "UncertaintyLoss")]
    scores, labels = json.loads(row["spec"])["inputs"]["args"]
    assert (scores["low"], scores["high"]) == (0.0, 1.0) and (labels["low"], labels["high"]) == (0.0, 1.0)
    assert "fix:unit-range" in json.loads(row["found_by"])


def test_a_filters_argument_used_as_one_size_becomes_an_int(deduce_crawl: Path) -> None:
    rows = _results(deduce_crawl, "eager")
    for key, rule in ((("filters.py", "CastConv"), "n_filters"), (("filters.py", "GatedDense"), "filters")):
        spec = _kwargs(rows[key])[rule]
        assert spec["kind"] == "const" and isinstance(spec["value"], int), spec
        assert "init:list-to-scalar" in json.loads(rows[key]["found_by"])


def test_gpu_ids_are_an_empty_list(deduce_crawl: Path) -> None:
    row = _results(deduce_crawl, "eager")[("gan.py", "ParallelDiscriminator")]
    assert _kwargs(row)["gpu_ids"] == {"kind": "list", "items": []}


def test_a_guarded_argument_takes_a_value_its_guard_accepts(deduce_crawl: Path) -> None:
    rows = _results(deduce_crawl, "eager")
    for key, name, value in ((("backbones.py", "ResNet"), "depth", 18), (("backbones.py", "Named"), "arch", "tiny")):
        assert _kwargs(rows[key])[name] == {"kind": "const", "value": value}
        assert "init:guard-member" in json.loads(rows[key]["found_by"])


def test_a_list_takes_the_length_its_guard_wants(deduce_crawl: Path) -> None:
    row = _results(deduce_crawl, "eager")[("pyramid.py", "Pyramid")]
    spec = _kwargs(row)["widths"]
    assert spec["kind"] == "list" and len(spec["items"]) == 3, spec
    assert "init:guard-length" in json.loads(row["found_by"])


def test_a_token_map_by_name_is_a_vocabulary(deduce_crawl: Path) -> None:
    row = _results(deduce_crawl, "eager")[("vocab.py", "Tagger")]
    spec = _kwargs(row)["word2ix"]
    assert spec["kind"] == "dict" and spec["items"]["[PAD]"] == {"kind": "const", "value": 0}
    assert "init:vocab-dict" in json.loads(row["found_by"])
