"""`report --compare` says when two runs are not comparable on time (machine load differed),
and then compares compile CPU time instead of wall time where both runs recorded it."""
from __future__ import annotations

import copy
import json

from db.store import Store
from graphcrawl.cli import main
from reports.compare import timing_comparability

try:
    from tests.test_report_data import _run, case_id, make_report_db, r1_results
except ImportError:  # tests/ itself on sys.path
    from test_report_data import _run, case_id, make_report_db, r1_results

NET2 = case_id("alice/vision", "models/cnn.py", "Net2")


def _load(mean: float, cores: int = 2) -> str:
    return json.dumps({"n": 40, "mean": mean, "min": mean, "max": mean, "cores": cores})


def make_db(tmp_path, load_a: float, load_b: float, cpu_a=None, cpu_b=None):
    db = make_report_db(tmp_path / "load.db")
    with Store(db) as store:
        base = r1_results()
        a, b = copy.deepcopy(base), copy.deepcopy(base)
        a[NET2].update(compile_s=8.0, compile_cache="miss", compile_cpu_s=cpu_a)
        b[NET2].update(compile_s=20.0, compile_cache="miss", compile_cpu_s=cpu_b)   # x2.5 on the wall clock
        _run(store, "quiet", "2025-02-01T00:00:00+00:00", a)
        _run(store, "busy", "2025-02-02T00:00:00+00:00", b)
        store.db["runs"].update("quiet", {"load_avg": _load(load_a)})
        store.db["runs"].update("busy", {"load_avg": _load(load_b)})
    return db


def compare(capsys, db, *extra):
    rc = main(["report", "--db", str(db), "--compare", "quiet", "busy", *extra])
    return rc, capsys.readouterr().out


def test_same_load_compile_regression_counts(tmp_path, capsys):
    rc, out = compare(capsys, make_db(tmp_path, 1.0, 1.2))
    assert rc == 1 and "NOT COMPARABLE" not in out


def test_different_load_without_cpu_time_is_not_judged(tmp_path, capsys):
    db = make_db(tmp_path, 1.0, 6.0)          # 0.5 vs 3 per core: a compile gets a third of a core
    rc, out = compare(capsys, db)
    assert rc == 0                             # no verdict on wall time under 3x the contention
    assert "not comparable on wall time" in out and "NOT COMPARABLE ON TIME" in out
    rc, out = compare(capsys, db, "--format", "json")
    data = json.loads(out)
    with Store(db, readonly=True) as store:    # every case with a compile time in both runs, same cache state
        both = store.db.execute("select count(*) from results a join results b on a.case_id = b.case_id "
                                "where a.run_id = 'quiet' and b.run_id = 'busy' and a.compile_s is not null "
                                "and b.compile_s is not null and a.compile_cache is b.compile_cache").fetchone()[0]
    assert data["timing"]["comparable"] is False and data["timing"]["skipped"] == both >= 1


def test_different_load_compares_cpu_time(tmp_path, capsys):
    rc, _ = compare(capsys, make_db(tmp_path, 1.0, 6.0, cpu_a=7.0, cpu_b=7.3))     # same CPU work: no regression
    assert rc == 0
    (tmp_path / "x").mkdir()
    rc, out = compare(capsys, make_db(tmp_path / "x", 1.0, 6.0, cpu_a=7.0, cpu_b=16.0), "--format", "json")
    reg = json.loads(out)["metric_regressions"]
    assert rc == 1 and [(r["case_id"], r["metric"]) for r in reg] == [(NET2, "compile_cpu_s")]


def test_timing_comparability_rule():
    assert timing_comparability({}, {})["comparable"] is True
    assert timing_comparability({"load_avg": _load(0.5)}, {"load_avg": _load(2.0)})["comparable"] is True
    assert timing_comparability({"load_avg": _load(1.0)}, {"load_avg": _load(4.0)})["comparable"] is False
