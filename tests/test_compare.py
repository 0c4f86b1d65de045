"""`graphcrawl report --compare A B`: regressions gate CI with exit code 1."""
from __future__ import annotations

import csv
import io
import json

import pytest

from db.store import Store
from graphcrawl.cli import main

try:
    from tests.test_report_data import case_id, make_report_db
except ImportError:  # tests/ itself on sys.path (plain `pytest`)
    from test_report_data import case_id, make_report_db

NET1 = case_id("alice/vision", "models/cnn.py", "Net1")
NET2 = case_id("alice/vision", "models/cnn.py", "Net2")
NET3 = case_id("alice/vision", "models/cnn.py", "Net3")


@pytest.fixture(scope="module")
def report_db(tmp_path_factory):
    return make_report_db(tmp_path_factory.mktemp("compare") / "graphcrawl.db")


def compare(capsys, db, a, b, *extra):
    rc = main(["report", "--db", str(db), "--compare", a, b, *extra])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_regression_exits_1(report_db, capsys):
    rc, out, _ = compare(capsys, report_db, "r1", "r2")
    assert rc == 1
    assert "Newly failing (pass before, not now): 1" in out
    assert NET1 in out
    assert "REGRESSED: 1 newly failing, 1 metric regressions" in out


def test_only_improvements_exit_0(report_db, capsys):
    rc, out, _ = compare(capsys, report_db, "r1", "r3")
    assert rc == 0
    assert "no regressions (1 newly passing, 1 metric improvements)" in out


def test_same_run_twice_and_reversed_runs(report_db, capsys):
    rc, _, _ = compare(capsys, report_db, "r2", "r2")
    assert rc == 2   # the same run twice is a usage error, not "no regressions"
    rc, out, _ = compare(capsys, report_db, "r3", "r1", "--format", "json")
    data = json.loads(out)
    # r1 is r3 with Net3 failing again: a regression the other way round
    assert rc == 1 and [r["case_id"] for r in data["newly_failing"]] == [NET3]


def test_json_details(report_db, capsys):
    rc, out, _ = compare(capsys, report_db, "r1", "r2", "--format", "json")
    assert rc == 1
    data = json.loads(out)
    assert data["regressed"] is True
    assert (data["common"], data["only_a"], data["only_b"]) == (11, 0, 0)
    assert [(r["case_id"], r["status_a"], r["status_b"], r["error_type_b"]) for r in data["newly_failing"]] == [
        (NET1, "pass", "compile_failed", "LoweringException")]
    assert [r["case_id"] for r in data["newly_passing"]] == [NET3]
    matrix = {(t["a"], t["b"]): t["count"] for t in data["transitions"]}
    assert matrix[("pass", "compile_failed")] == 1
    assert matrix[("compile_failed", "pass")] == 1
    assert matrix[("pass", "pass")] == 1
    assert sum(matrix.values()) == 11
    [reg] = data["metric_regressions"]
    assert (reg["case_id"], reg["metric"], reg["a"], reg["b"], reg["change"]) == (NET2, "compile_s", 8.0, 20.0, 2.5)
    levels = {lv["name"]: (lv["a"], lv["b"], lv["delta"]) for lv in data["levels"]}
    assert levels["passed"] == (2, 2, 0) and levels["compiled"] == (4, 4, 0)


def test_thresholds_are_options(report_db, capsys):
    # compile 8 s -> 20 s is x2.5: not a regression when the ratio threshold is 3
    rc, out, _ = compare(capsys, report_db, "r1", "r2", "--compile-ratio", "3", "--format", "json")
    data = json.loads(out)
    assert data["metric_regressions"] == [] and rc == 1          # Net1 still newly failing
    rc, out, _ = compare(capsys, report_db, "r1", "r3", "--min-compile-delta", "10", "--format", "json")
    assert rc == 0 and json.loads(out)["metric_improvements"] == []
    rc, _, err = compare(capsys, report_db, "r1", "r2", "--speedup-ratio", "1.5")
    assert rc == 2 and "--speedup-ratio" in err


def test_speedup_and_break_regressions(tmp_path, capsys):
    db = make_report_db(tmp_path / "metrics.db")
    with Store(db) as store:
        store.db.execute("update results set speedup = 0.3 where run_id = 'r3' and case_id = ?", [NET1])
        store.db.execute("update results set graph_break_count = 5 where run_id = 'r3' and case_id = ?", [NET2])
    rc, out, _ = compare(capsys, db, "r1", "r3", "--format", "json")
    assert rc == 1
    regs = {(r["case_id"], r["metric"]): r["change"] for r in json.loads(out)["metric_regressions"]}
    assert regs == {(NET1, "speedup"): pytest.approx(0.2), (NET2, "graph_break_count"): 3}
    rc, out, _ = compare(capsys, db, "r1", "r3", "--break-delta", "3", "--speedup-ratio", "0.1", "--format", "json")
    assert rc == 0


def test_csv_and_markdown(report_db, capsys):
    rc, out, _ = compare(capsys, report_db, "r1", "r2", "--format", "csv")
    assert rc == 1
    rows = list(csv.DictReader(io.StringIO(out)))
    kinds = sorted((r["kind"], r["case_id"]) for r in rows)
    assert kinds == [("metric_regression", NET2), ("newly_failing", NET1), ("newly_passing", NET3)]
    reg = next(r for r in rows if r["kind"] == "metric_regression")
    assert (reg["metric"], float(reg["a"]), float(reg["b"]), float(reg["change"])) == ("compile_s", 8.0, 20.0, 2.5)
    rc, out, _ = compare(capsys, report_db, "r1", "r2", "--format", "markdown")
    assert rc == 1 and out.startswith("# graphcrawl compare: REGRESSED")
    assert "| pass | · | · | · | 1 | · | 1 | · | · | 2 |" in out


def test_only_common_cases_are_compared(tmp_path, capsys):
    db = make_report_db(tmp_path / "partial.db")
    with Store(db) as store:
        store.db.execute("delete from results where run_id = 'r2' and case_id = ?", [NET1])
    rc, out, _ = compare(capsys, db, "r1", "r2", "--format", "json")
    data = json.loads(out)
    assert (data["common"], data["only_a"], data["only_b"]) == (10, 1, 0)
    assert data["newly_failing"] == []
    assert rc == 1   # Net2's compile time is still a regression


def test_unknown_run(report_db, capsys):
    rc, _, err = compare(capsys, report_db, "r1", "nope")
    assert rc == 2 and "no run named 'nope'" in err
