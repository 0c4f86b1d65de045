"""Newcomer rough edges on a real crawl: a no-op forward, a hang in deduction, the
frame-hook statistics and compile CPU time (tests/triage_fixtures.py, backend eager)."""
from __future__ import annotations

import pytest

from db.store import Store
from reports.scope import open_scope
from reports.summary import build_report
from reports.triage import clusters
from tests.triage_fixtures import EXPECTED


@pytest.fixture(scope="module")
def rows(triage_crawl):
    with Store(triage_crawl, readonly=True) as store:
        return {r["qualname"]: dict(r) for r in store.db.query(
            "select x.*, m.qualname from results x join modules m on m.id = x.module_id")}


def test_every_fixture_ends_in_its_status(rows):
    assert {q: r["status"] for q, r in rows.items()} == EXPECTED


def test_a_forward_without_tensor_ops_is_not_a_dynamo_failure(rows, triage_crawl):
    r = rows["Identity"]
    assert (r["status"], r["reason"], r["graph_count"]) == ("capture_failed", "no_tensor_ops", 0)
    assert r["trace_path"] is None                      # harness-kind: no trace kept
    with open_scope(triage_crawl) as scope:
        data = build_report(scope).as_dict()
        compiler = clusters(scope, kind="compiler")
    assert not any(r["case_id"] in c.case_ids for c in compiler)
    rates = {x["name"]: x for x in data["rates"]}
    # runnable: Fine, DiffersAfterBreak, PassesWithBreak; Identity is neither runnable nor a capture failure
    assert rates["eager"]["count"] == 3 and rates["captured"]["count"] == 3


def test_a_hang_in_deduction_is_killed_at_its_budget_at_stage_inputs(rows):
    r = rows["HangsInForward"]
    assert (r["status"], r["stage"], r["reason"]) == ("timeout", "inputs", "deduce_budget")
    assert "budget" in r["error_msg"]
    assert r["wall_s"] < 60                             # the 5 s budget plus grace, not the 120 s case timeout


def test_hook_overhead_comes_with_its_ratio_and_interval(rows):
    for name in ("Fine", "PassesWithBreak"):
        r = rows[name]
        assert r["hook_samples"] >= 21
        assert r["hook_ratio"] > 0 and r["hook_overhead_ci_us"] >= 0
        assert r["hook_ms"] == pytest.approx(r["eager_ms"] * r["hook_ratio"], rel=0.5)


def test_compile_cpu_time_is_recorded_beside_wall(rows):
    r = rows["Fine"]
    assert r["compile_s"] > 0 and r["compile_cpu_s"] is not None and r["compile_cpu_s"] > 0


def test_report_says_how_noisy_the_hook_overhead_was(triage_crawl):
    from reports.html import render_html
    with open_scope(triage_crawl) as scope:
        data = build_report(scope).as_dict()
    h = data["hook_overhead"]
    assert h["cases"] == 3 and h["confidence"] == 0.95          # the three modules that got past capture
    assert h["ci_half_us_median"] >= 0 and 0 <= h["resolved"] <= 3 and h["ratio_median"] > 0
    assert "Frame-hook overhead" in render_html(data)


def test_the_run_records_the_machine_load(triage_crawl):
    import json
    with Store(triage_crawl, readonly=True) as store:
        (run,) = store.runs()
    load = json.loads(run["load_avg"])
    assert load["n"] == len(EXPECTED) and load["min"] <= load["mean"] <= load["max"] and load["cores"] >= 1
