"""`graphcrawl report`: funnel, rates, distributions, breaks, yield; every format.

The database comes from `report_db` (synthetic rows through the Store API,
see tests/test_report_data.py); swap that fixture for a real fixture crawl
and update the expectations beside it.
"""
from __future__ import annotations

import csv
import io
import json
import math
import sqlite3

import pytest

from db.store import Store
from graphcrawl.cli import main
from reports import predicates
from reports.scope import open_scope
from reports.summary import build_report

try:
    from tests.test_report_data import EXPECTED_R1, case_id, make_report_db
except ImportError:  # tests/ itself on sys.path (plain `pytest`)
    from test_report_data import EXPECTED_R1, case_id, make_report_db


@pytest.fixture(scope="module")
def report_db(tmp_path_factory):
    return make_report_db(tmp_path_factory.mktemp("report") / "graphcrawl.db")


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def report(db, run="r1", project=None):
    with open_scope(db, run, project) as scope:
        return build_report(scope).as_dict()


def test_rates_exact(report_db):
    data = report(report_db)
    assert data["cases"] == EXPECTED_R1["total"]
    rates = {r["name"]: r for r in data["rates"]}
    for name, count in EXPECTED_R1["counts"].items():
        assert rates[name]["count"] == count, name
        assert rates[name]["pct_of_runnable"] == EXPECTED_R1["pct_of_runnable"][name], name
        assert rates[name]["pct_of_all"] == EXPECTED_R1["pct_of_all"][name], name
        assert rates[name]["runnable"] == 8 and rates[name]["total"] == 11


def test_reduced_predicates_agree_with_per_row_predicates(report_db):
    """Scope.groups() evaluates the level predicates on grouped, reduced columns;
    evaluated row by row on `results` they must give the same counts."""
    conn = sqlite3.connect(report_db)
    for run in ("r1", "r2", "r3"):
        direct = {name: conn.execute(f"select coalesce(sum(case when {fn('x')} then 1 else 0 end), 0) "
                                     "from results x where x.run_id = ?", [run]).fetchone()[0]
                  for name, (_, fn) in predicates.LEVELS.items()}
        rates = {r["name"]: r["count"] for r in report(report_db, run)["rates"]}
        assert rates == direct, run


def test_case_and_repo_funnel(report_db):
    data = report(report_db)
    funnel = [(r["status"], r["stage"], r["count"]) for r in data["case_funnel"]]
    assert funnel == [
        ("import_failed", None, 2), ("init_failed", None, 0), ("inputs_not_found", None, 0),
        ("eager_failed", None, 0), ("eager_nondeterministic", None, 1), ("capture_failed", None, 1),
        ("compile_failed", None, 2), ("run_failed", None, 0), ("parity_failed", None, 1), ("pass", None, 2),
        ("timeout", "compile", 1), ("crash", "import", 1)]
    assert sum(r["count"] for r in data["case_funnel"]) == 11
    repos = {r["status"]: r["count"] for r in data["repo_funnel"]}
    assert repos == {"discovered": 0, "clone_failed": 1, "too_large": 0, "no_modules": 1, "scanned": 2}
    assert data["pending"] == 0


def test_distributions(report_db):
    d = report(report_db)["distributions"]
    c = d["compile_s"]                      # 1, 2, 4, 8
    assert (c["n"], c["median"], c["min"], c["max"]) == (4, 3.0, 1.0, 8.0)
    assert c["p90"] == pytest.approx(6.8)
    assert c["geomean"] == pytest.approx(64 ** 0.25)
    s = d["speedup"]                        # 0.5, 1, 1.5, 2
    assert (s["n"], s["median"]) == (4, 1.25)
    assert s["geomean"] == pytest.approx(1.5 ** 0.25)
    g = d["graph_breaks"]                   # captured cases: 0, 0, 0, 0, 1, 2 (capture_failed excluded)
    assert (g["n"], g["median"], g["p90"], g["max"]) == (6, 0.0, 1.5, 2)
    assert g["geomean"] is None             # zeros: no geomean
    h = d["hook_overhead_us"]               # -5, 20, 30, 40, 50
    assert (h["n"], h["median"], h["geomean"]) == (5, 30.0, None)
    assert h["p90"] == pytest.approx(46.0)


def test_histograms_count_every_value(report_db):
    hist = report(report_db)["histograms"]
    assert sum(hist["compile_s"]["counts"]) == 4
    assert len(hist["compile_s"]["edges"]) == len(hist["compile_s"]["counts"]) + 1
    assert hist["compile_s"]["edges"][0] == pytest.approx(1.0)
    assert hist["compile_s"]["edges"][-1] == pytest.approx(8.0)
    assert sum(hist["speedup"]["counts"]) == 4


def test_break_reasons_and_ids(report_db):
    data = report(report_db)
    reasons = {b["reason"]: b for b in data["break_reasons"]}
    item = reasons["Unsupported Tensor.item() call with capture_scalar_outputs=False"]
    assert (item["cases"], item["breaks"], item["ids"]) == (2, 2, ["GB0124"])
    # quoted path and line number are masked; the raw text stays as the example
    masked = reasons["Unsupported builtin print() at <q> line <n>"]
    assert masked["example"] == "Unsupported builtin print() at 'models/cnn.py' line 12"
    assert masked["ids"] == []
    assert data["break_reasons"][0]["reason"].startswith("Unsupported Tensor.item()")
    assert data["break_ids"] == [{"id": "GB0124", "breaks": 2, "cases": 2},
                                 {"id": "GB0170", "breaks": 1, "cases": 1}]
    assert data["graph_break_buckets"] == [{"breaks": "0", "count": 4}, {"breaks": "1", "count": 1},
                                           {"breaks": "2", "count": 1}]


def test_yield_section(report_db):
    y = report(report_db)["yield"]
    assert (y["found_by"]["cases"], y["found_by"]["with_spec"]) == (11, 8)
    rules = {r["rule"]: (r["cases"], r["passed"]) for r in y["found_by"]["rules"]}
    assert rules == {"init:defaults": (4, 2), "init:names": (4, 0), "inputs:linear": (4, 1),
                     "inputs:conv2d": (3, 1), "inputs:embedding": (1, 0)}
    assert y["missing_packages"] == [{"package": "wandb", "cases": 2, "projects": 2}]
    assert y["import_error_types"] == [{"error_type": "ModuleNotFoundError", "cases": 2, "projects": 2}]
    assert y["stubbed_packages"] == [{"package": "timm", "cases": 1, "projects": 1},
                                     {"package": "transformers", "cases": 1, "projects": 1}]


def test_project_filter(report_db):
    data = report(report_db, project="bob/nlp")
    assert data["cases"] == 5
    rates = {r["name"]: r["count"] for r in data["rates"]}
    assert rates == {"eager": 3, "captured": 2, "full_graph": 1, "compiled": 1, "parity": 0, "passed": 0}
    assert [p["project"] for p in data["projects"]] == ["bob/nlp"]
    assert {r["status"]: r["count"] for r in data["repo_funnel"]}["scanned"] == 1


def test_latest_run_is_the_default(report_db, capsys):
    rc, out, _ = run_cli(capsys, "report", "--db", str(report_db), "--format", "json")
    assert rc == 0
    assert json.loads(out)["run"]["id"] == "r3"


def test_json_output(report_db, capsys):
    rc, out, err = run_cli(capsys, "report", "--db", str(report_db), "--run", "r1", "--format", "json")
    assert rc == 0 and err == ""
    data = json.loads(out)
    assert data["run"]["backend"] == "inductor" and data["run"]["config"]["tol"] == 0.001
    assert {r["name"]: r["pct_of_all"] for r in data["rates"]} == EXPECTED_R1["pct_of_all"]
    alice = next(p for p in data["projects"] if p["project"] == "alice/vision")
    assert alice == {"project": "alice/vision", "stars": 120, "cases": 6, "eager": 5, "captured": 5,
                     "full_graph": 3, "compiled": 3, "parity": 3, "passed": 2, "capture_pct": 100.0,
                     "pass_pct": 33.33, "pass_of_eager_pct": 40.0, "graph_breaks": 2,
                     "compile_s_median": 4.0, "speedup_median": 1.5}


def test_csv_output(report_db, capsys):
    rc, out, _ = run_cli(capsys, "report", "--db", str(report_db), "--run", "r1", "--format", "csv")
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0].keys() == {"section", "name", "detail", "count", "total", "percent", "value"}
    by = {(r["section"], r["name"], r["detail"]): r for r in rows}
    cap = by[("rate_of_runnable", "captured", "")]
    assert (cap["count"], cap["total"], float(cap["percent"])) == ("7", "8", 87.5)
    assert float(by[("rate_of_all", "passed", "")]["percent"]) == 18.18
    assert by[("case_funnel", "timeout", "compile")]["count"] == "1"
    assert float(by[("distribution", "compile_s", "median")]["value"]) == 3.0
    assert by[("distribution", "graph_breaks", "geomean")]["value"] == ""
    assert by[("missing_packages", "wandb", "")]["count"] == "2"


def test_by_project_csv_sorted(report_db, capsys):
    rc, out, _ = run_cli(capsys, "report", "--db", str(report_db), "--run", "r1", "--by", "project",
                         "--format", "csv", "--sort", "pass_pct:asc")
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["project"] for r in rows] == ["bob/nlp", "alice/vision"]
    assert rows[1]["pass_pct"] == "33.33" and rows[1]["cases"] == "6"
    rc, out, _ = run_cli(capsys, "report", "--db", str(report_db), "--run", "r1", "--by", "project",
                         "--format", "csv", "--sort", "stars")
    assert [r["project"] for r in csv.DictReader(io.StringIO(out))] == ["alice/vision", "bob/nlp"]


def test_bad_sort_column_is_a_clean_error(report_db, capsys):
    rc, out, err = run_cli(capsys, "report", "--db", str(report_db), "--by", "project", "--sort", "nope")
    assert rc == 2 and "cannot sort by 'nope'" in err and "Traceback" not in err


def test_terminal_and_markdown(report_db, capsys):
    rc, out, _ = run_cli(capsys, "report", "--db", str(report_db), "--run", "r1")
    assert rc == 0
    assert "Success rates — 11 cases, 8 run in eager" in out
    assert "captured (graph breaks allowed)" in out and "87.5%" in out and "63.6%" in out
    assert "timeout @ compile" in out
    rc, out, _ = run_cli(capsys, "report", "--db", str(report_db), "--run", "r1", "--format", "markdown")
    assert rc == 0
    assert out.startswith("# graphcrawl report — run r1")
    assert "| captured (graph breaks allowed) | 7 | 87.5% | 63.6% |" in out
    assert "| wandb | 2 | 2 |" in out
    rc, out, _ = run_cli(capsys, "report", "--db", str(report_db), "--run", "r1", "--by", "project")
    assert rc == 0 and "alice/vision" in out and "bob/nlp" in out


def test_output_file(report_db, tmp_path, capsys):
    target = tmp_path / "r.json"
    rc, out, _ = run_cli(capsys, "report", "--db", str(report_db), "--run", "r1", "--format", "json",
                         "-o", str(target))
    assert rc == 0 and out == ""
    assert json.loads(target.read_text())["cases"] == 11


@pytest.mark.parametrize("argv, message", [
    (["--run", "nope"], "no run named 'nope'"),
    (["--project", "x/y"], "no project 'x/y'"),
])
def test_unknown_run_or_project(report_db, capsys, argv, message):
    rc, _, err = run_cli(capsys, "report", "--db", str(report_db), *argv)
    assert rc == 2 and message in err


def test_missing_database(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "report", "--db", str(tmp_path / "none.db"))
    assert rc == 2 and "no such database" in err


def test_empty_database_has_no_runs(tmp_path, capsys):
    Store(tmp_path / "empty.db").close()
    rc, _, err = run_cli(capsys, "report", "--db", str(tmp_path / "empty.db"))
    assert rc == 2 and "no runs yet" in err


def test_report_while_a_crawl_writes(tmp_path):
    """WAL: a report reads the committed results while the writer holds its lock
    and has a transaction open; it sees neither the uncommitted row nor a lock error."""
    db = make_report_db(tmp_path / "live.db")
    writer = Store(db)
    writer.lock_for_writing()
    writer.db.conn.execute("BEGIN IMMEDIATE")
    writer.record_result({"run_id": "r1", "case_id": "new/case", "module_id": "new/case", "repo_id": "bob/nlp",
                          "status": "pass", "stage": "done"})
    try:
        data = report(db)
        assert data["cases"] == 11
        assert data["pending"] == 0
    finally:
        writer.db.conn.execute("COMMIT")
        writer.close()
    assert report(db)["cases"] == 12


def test_pending_counts_modules_without_result(tmp_path):
    db = make_report_db(tmp_path / "pending.db")
    with Store(db) as store:
        store.db.execute("delete from results where run_id = 'r1' and case_id = ?",
                         [case_id("bob/nlp", "nlp/layers.py", "M1")])
    data = report(db)
    assert data["cases"] == 10 and data["pending"] == 1


def test_nan_free_json_for_empty_run(tmp_path, capsys):
    db = tmp_path / "one.db"
    with Store(db) as store:
        store.start_run({"id": "empty", "torch": "2.13.0"})
    rc, out, _ = run_cli(capsys, "report", "--db", str(db), "--format", "json")
    assert rc == 0
    data = json.loads(out)
    assert data["cases"] == 0
    assert all(r["pct_of_all"] is None for r in data["rates"])
    assert data["distributions"]["compile_s"]["n"] == 0
    assert not any(isinstance(v, float) and math.isnan(v) for v in data["distributions"]["speedup"].values())
