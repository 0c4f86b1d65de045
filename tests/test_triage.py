"""`graphcrawl triage`: failure signatures, clusters, `triage show`."""
from __future__ import annotations

import csv
import io
import json

import pytest

from db.store import Store
from graphcrawl.cli import main
from reports.scope import open_scope
from reports.signature import cluster_id, first_break_id, normalize_message, signature
from reports.triage import clusters

try:
    from tests.test_report_data import SHAPE_MSG_1, VIEW_FRAME, case_id, make_report_db
except ImportError:  # tests/ itself on sys.path (plain `pytest`)
    from test_report_data import SHAPE_MSG_1, VIEW_FRAME, case_id, make_report_db

NET3 = case_id("alice/vision", "models/cnn.py", "Net3")
M1 = case_id("bob/nlp", "nlp/layers.py", "M1")


@pytest.fixture(scope="module")
def report_db(tmp_path_factory):
    return make_report_db(tmp_path_factory.mktemp("triage") / "graphcrawl.db")


def cli(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("a, b", [
    ("shape '[2, 3, 32]' is invalid for input of size 191", "shape '[4, 7]' is invalid for input of size 30"),
    ("mat1 and mat2 shapes cannot be multiplied (2x16 and 32x8)", "mat1 and mat2 shapes cannot be multiplied (4x3 and 9x1)"),
    ("expected input[2, 4, 32, 32] to have 3 channels", "expected input[1, 8, 7, 7] to have 16 channels"),
    ("Expected size torch.Size([2, 3]) at 0x7f3a2b1c0d10", "Expected size torch.Size([5]) at 0x55d1"),
    ("error in /tmp/torchinductor_root/ab/cab12.cpp line 12", "error in /home/u/.cache/x/c9.cpp line 99"),
    ("'Net' object has no attribute 'conv1'", "'Block' object has no attribute 'proj'"),
    ("tol=1e-03 max_abs_err=0.25", "tol=0.001 max_abs_err=-3.5e+2"),
])
def test_messages_differing_in_variable_parts_normalize_alike(a, b):
    assert normalize_message(a) == normalize_message(b)


def test_normalization_keeps_the_words():
    assert normalize_message("shape '[2, 3, 32]' is invalid for input of size 191") == \
        "shape <q> is invalid for input of size <n>"
    assert normalize_message("float32 and conv2d and GB0124 stay") == "float32 and conv2d and GB0124 stay"
    assert normalize_message("a\n  b\tc") == "a b c"
    assert normalize_message(None) == ""


def test_signature_and_stable_cluster_id():
    a = signature("compile_failed", "compile", "LoweringException", SHAPE_MSG_1, VIEW_FRAME, '["", "GB0124"]')
    b = signature("compile_failed", "compile", "LoweringException", "shape '[9]' is invalid for input of size 3",
                  VIEW_FRAME, ["GB0124"])
    assert a == b and a.cluster_id == b.cluster_id == cluster_id(a)
    assert len(a.cluster_id) == 8
    assert a.break_id == "GB0124"
    other_type = signature("compile_failed", "compile", "RuntimeError", SHAPE_MSG_1, VIEW_FRAME, None)
    other_stage = signature("timeout", "run", "LoweringException", SHAPE_MSG_1, VIEW_FRAME, None)
    assert len({a.cluster_id, other_type.cluster_id, other_stage.cluster_id}) == 3
    # the id is a function of the signature only: the same on every machine, run and version
    # (a changed value here means last week's cluster ids no longer match)
    assert signature("compile_failed", "compile", "LoweringException", SHAPE_MSG_1, VIEW_FRAME, "[]").cluster_id \
        == "3b79e66e"
    assert first_break_id(None) is None and first_break_id("not json") is None


def test_clusters_group_same_bug_across_projects(report_db):
    with open_scope(report_db, "r1") as scope:
        found = clusters(scope)
    assert sum(c.count for c in found) == 9          # every non-pass result, once
    shape = next(c for c in found if c.signature.error_type == "LoweringException")
    assert sorted(shape.case_ids) == sorted([NET3, M1])
    assert (shape.count, shape.projects) == (2, 2)
    assert shape.signature.message == "shape <q> is invalid for input of size <n>"
    # compiler failures first, then harness failures; each largest first, ties broken by
    # projects then id, so the order is deterministic
    kinds = [c.kind for c in found]
    assert kinds == sorted(kinds, key=lambda k: k != "compiler") and set(kinds) == {"compiler", "harness"}
    for kind in ("compiler", "harness"):
        counts = [c.count for c in found if c.kind == kind]
        assert counts == sorted(counts, reverse=True)
    imports = next(c for c in found if c.signature.status == "import_failed")
    assert imports.count == 2
    assert imports.examples == [case_id("alice/vision", "models/logger.py", "Net4"),
                                case_id("bob/nlp", "nlp/extra.py", "M3")]


def test_different_error_types_split(tmp_path):
    db = make_report_db(tmp_path / "split.db")
    with Store(db) as store:
        store.db.execute("update results set error_type = 'RuntimeError' where run_id = 'r1' and case_id = ?", [M1])
    with open_scope(db, "r1") as scope:
        found = clusters(scope)
    homes = {c.id: c.case_ids for c in found if NET3 in c.case_ids or M1 in c.case_ids}
    assert len(homes) == 2 and all(len(v) == 1 for v in homes.values())


def test_examples_prefer_distinct_projects(tmp_path):
    db = make_report_db(tmp_path / "many.db")
    with Store(db) as store:
        for i in range(5):
            store.record_result({"run_id": "r1", "case_id": f"alice/vision@x:m.py:Extra{i}", "module_id": "m",
                                 "repo_id": "alice/vision", "status": "compile_failed", "stage": "compile",
                                 "error_type": "LoweringException", "error_frame": VIEW_FRAME,
                                 "error_msg": f"shape '[{i}, 2]' is invalid for input of size {i * 7}"})
    with open_scope(db, "r1") as scope:
        top = clusters(scope)[0]
    assert (top.count, top.projects) == (7, 2)
    assert len(top.examples) == 3
    assert M1 in top.examples                         # bob/nlp's case, though alice has more


def test_triage_cli_table_and_json(report_db, capsys):
    rc, out, _ = cli(capsys, "triage", "--db", str(report_db), "--run", "r1")
    assert rc == 0
    assert "Compiler failures" in out and "LoweringException: shape <q> is invalid" in out
    assert out.index("Compiler failures") < out.index("Harness failures")
    assert NET3 in out
    rc, out, _ = cli(capsys, "triage", "--db", str(report_db), "--run", "r1", "--format", "json")
    data = json.loads(out)
    assert data["failures"] == 9 and len(data["clusters"]) == 7
    top = data["clusters"][0]
    assert set(top) >= {"id", "count", "projects", "status", "stage", "error_type", "message", "frame",
                        "break_id", "examples"}
    rc, out, _ = cli(capsys, "triage", "--db", str(report_db), "--run", "r1", "--format", "csv", "--limit", "2")
    rows = list(csv.DictReader(io.StringIO(out)))
    # --limit applies to each kind: two compiler clusters, then two harness clusters
    assert [r["kind"] for r in rows] == ["compiler", "compiler", "harness", "harness"]
    assert rows[0]["count"] == "2" and rows[0]["status"] == "compile_failed"


def test_triage_kind_status_stage_filters(report_db, capsys):
    def ids(*extra):
        rc, out, _ = cli(capsys, "triage", "--db", str(report_db), "--run", "r1", "--format", "json", *extra)
        assert rc == 0
        return json.loads(out)
    comp = ids("--kind", "compiler")
    assert comp["failures"] == 5 and {c["kind"] for c in comp["clusters"]} == {"compiler"}
    # a timeout at compile is the compiler's, a crash at import the harness's
    assert {(c["status"], c["stage"]) for c in comp["clusters"]} >= {("timeout", "compile")}
    harness = ids("--kind", "harness")
    assert harness["failures"] == 4 and ("crash", "import") in {(c["status"], c["stage"]) for c in harness["clusters"]}
    both = ids()
    assert both["by_kind"] == {"compiler": 5, "flaky": 0, "harness": 4}
    assert [c["kind"] for c in both["clusters"]][:4] == ["compiler"] * 4
    only = ids("--status", "compile_failed,timeout")
    assert {c["status"] for c in only["clusters"]} == {"compile_failed", "timeout"} and only["failures"] == 3
    staged = ids("--stage", "import")
    assert {c["stage"] for c in staged["clusters"]} == {"import"} and staged["failures"] == 3
    rc, _, err = cli(capsys, "triage", "--db", str(report_db), "--run", "r1", "--status", "compiled_badly")
    assert rc == 2 and "unknown status 'compiled_badly'" in err and "Traceback" not in err


def test_triage_project_filter(report_db, capsys):
    rc, out, _ = cli(capsys, "triage", "--db", str(report_db), "--run", "r1", "--project", "bob/nlp",
                     "--format", "json")
    assert rc == 0 and json.loads(out)["failures"] == 5


def test_triage_show(report_db, capsys):
    with open_scope(report_db, "r1") as scope:
        cid = next(c.id for c in clusters(scope) if c.signature.error_type == "LoweringException")
    for argv in (["triage", "--db", str(report_db), "--run", "r1", "show", cid[:5]],
                 ["triage", "show", cid, "--db", str(report_db), "--run", "r1"]):
        rc, out, _ = cli(capsys, *argv)
        assert rc == 0
        assert f"cluster {cid}: 2 cases in 2 projects" in out
        assert "shape '[2, 3, 32]' is invalid for input of size 191" in out       # full message
        assert "Traceback (most recent call last):" in out                          # full traceback
        assert f"graphcrawl triage repro '{M1}' --run r1 -o repro.py" in out
    rc, out, _ = cli(capsys, "triage", "--db", str(report_db), "--run", "r1", "show", cid, "--format", "json")
    data = json.loads(out)
    assert sorted(c["case_id"] for c in data["cases"]) == sorted([NET3, M1])
    assert data["cases"][0]["path"] == "models/cnn.py"


def test_triage_show_unknown_cluster(report_db, capsys):
    rc, _, err = cli(capsys, "triage", "--db", str(report_db), "--run", "r1", "show", "ffffffff")
    assert rc == 2 and "no failure cluster 'ffffffff'" in err
