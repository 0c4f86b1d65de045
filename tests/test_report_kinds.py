"""Compiler failures apart from harness failures, in every view (db.status.failure_kind)."""
from __future__ import annotations

import json

import pytest

from db.status import failure_kind
from db.store import Store
from graphcrawl.cli import main
from reports.api import ReportOptions, run_report
from reports.html import render_html
from reports.scope import open_scope
from reports.summary import build_report
from reports.triage import clusters

try:
    from tests.test_report_data import case_id, make_report_db
except ImportError:  # tests/ itself on sys.path (plain `pytest`)
    from test_report_data import case_id, make_report_db

IDENTITY = case_id("bob/nlp", "nlp/layers.py", "Identity")


@pytest.mark.parametrize("status, stage, reason, kind", [
    ("capture_failed", "capture", None, "compiler"), ("compile_failed", "compile", None, "compiler"),
    ("run_failed", "run", None, "compiler"), ("parity_failed", "parity", None, "compiler"),
    ("timeout", "compile", None, "compiler"), ("crash", "capture", None, "compiler"), ("oom", "run", None, "compiler"),
    ("import_failed", "import", None, "harness"), ("init_failed", "init", None, "harness"),
    ("inputs_not_found", "inputs", None, "harness"), ("eager_failed", "eager", None, "harness"),
    ("timeout", "inputs", None, "harness"), ("crash", "import", None, "harness"), ("oom", "eager", None, "harness"),
    ("eager_nondeterministic", "done", None, "harness"),
    ("capture_failed", "capture", "no_tensor_ops", "harness"), ("pass", "done", None, None),
])
def test_failure_kind(status, stage, reason, kind):
    assert failure_kind(status, stage, reason) == kind


@pytest.fixture(scope="module")
def kinds_db(tmp_path_factory):
    db = make_report_db(tmp_path_factory.mktemp("kinds") / "graphcrawl.db")
    with Store(db) as store:   # a forward that does no tensor operation: not Dynamo's failure
        store.record_result({"run_id": "r1", "case_id": IDENTITY, "module_id": IDENTITY, "repo_id": "bob/nlp",
                             "status": "capture_failed", "stage": "capture", "reason": "no_tensor_ops",
                             "graph_count": 0, "graph_break_count": 0, "error_type": "CaptureSkipped",
                             "error_msg": "forward does no tensor operation: nothing to capture"})
    return db


def test_report_splits_failures_by_kind(kinds_db, tmp_path):
    with open_scope(kinds_db, "r1") as scope:
        data = build_report(scope).as_dict()
    split = {s["kind"]: s for s in data["failure_split"]}
    # compiler: compile_failed x2, parity_failed, capture_failed, timeout @ compile
    assert split["compiler"]["count"] == 5
    # harness: import_failed x2, crash @ import, eager_nondeterministic, capture_failed (no_tensor_ops)
    assert split["harness"]["count"] == 5
    assert {"status": "capture_failed", "stage": None, "reason": "no_tensor_ops", "count": 1} \
        in split["harness"]["statuses"]
    rows = {(r["status"], r["stage"], r["reason"]): r for r in data["case_funnel"]}
    assert rows[("capture_failed", None, None)]["kind"] == "compiler"
    assert rows[("capture_failed", None, "no_tensor_ops")]["count"] == 1
    assert rows[("timeout", "compile", None)]["kind"] == "compiler"
    assert rows[("crash", "import", None)]["kind"] == "harness"
    # the no-op forward leaves the capture denominator: rates are those of the db without it
    with open_scope(make_report_db(tmp_path / "plain.db"), "r1") as scope:
        plain = build_report(scope).as_dict()["rates"]
    assert [(r["name"], r["count"], r["runnable"]) for r in data["rates"]] == \
        [(r["name"], r["count"], r["runnable"]) for r in plain]
    assert data["rates"][0]["total"] == plain[0]["total"] + 1


def test_report_table_and_html_show_the_split(kinds_db, capsys):
    rc = main(["report", "--db", str(kinds_db), "--run", "r1"])
    out = capsys.readouterr().out
    assert rc == 0 and "Failures: compiler vs harness" in out
    assert "capture_failed (no_tensor_ops)" in out
    with open_scope(kinds_db, "r1") as scope:
        page = render_html(build_report(scope).as_dict())
    assert "<h2>Failures: compiler vs harness</h2>" in page and "no_tensor_ops" in page


def test_triage_puts_the_no_op_forward_with_the_harness(kinds_db):
    with open_scope(kinds_db, "r1") as scope:
        harness = clusters(scope, kind="harness")
        compiler = clusters(scope, kind="compiler")
    assert any(IDENTITY in c.case_ids for c in harness)
    assert not any(IDENTITY in c.case_ids for c in compiler)
    skip = next(c for c in harness if IDENTITY in c.case_ids)
    assert skip.signature.reason == "no_tensor_ops"
