"""Torch structured traces of compiler failures, kept next to the database.

A real crawl (bwrap worker, torch.compile with backend eager) of a tiny repo:
the child starts torch's structured trace in its scratch dir, the worker
carries it back, the driver writes <db>.traces/<run>/<case>.log; `triage show`
names it and `triage trace` renders it with tlparse where installed.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from db.store import Store
from db.traces import resolve, traces_root
from graphcrawl.cli import main


@pytest.fixture(scope="module")
def traced(triage_crawl):
    db = triage_crawl
    with Store(db, readonly=True) as store:
        rows = {r["qualname"]: dict(r) for r in store.db.query(
            "select x.*, m.qualname from results x join modules m on m.id = x.module_id")}
    return db, rows


def test_compiler_failure_keeps_its_trace_and_logs(traced):
    db, rows = traced
    bad = rows["DiffersAfterBreak"]
    assert bad["status"] == "parity_failed" and bad["trace_path"]
    trace, logs = resolve(db, bad["trace_path"])
    assert trace is not None and trace.parent.parent == traces_root(db)
    text = trace.read_text()
    # torch's structured trace: one JSON record per line after a glog prefix
    assert '"dynamo_start"' in text and '"frame_id"' in text
    assert len(text.encode()) <= 4 * 1024 * 1024
    assert logs is not None and "[__graph_breaks]" in logs.read_text()
    for name in ("Fine", "PassesWithBreak"):     # passes keep nothing
        assert rows[name]["status"] == "pass" and rows[name]["trace_path"] is None


def test_triage_show_names_the_trace(traced, capsys):
    db, rows = traced
    rc = main(["triage", "--db", str(db), "--kind", "compiler", "--format", "json"])
    cluster = json.loads(capsys.readouterr().out)["clusters"][0]["id"]
    assert main(["triage", "show", cluster, "--db", str(db)]) == 0
    out = capsys.readouterr().out
    trace, _ = resolve(db, rows["DiffersAfterBreak"]["trace_path"])
    assert f"torch trace: {trace}" in out and "graph-break/recompile log:" in out
    assert f"graphcrawl triage trace '{rows['DiffersAfterBreak']['case_id']}'" in out


@pytest.mark.skipif(shutil.which("tlparse") is None, reason="tlparse not installed (pip install tlparse)")
def test_triage_trace_renders_with_tlparse(traced, capsys, tmp_path):
    db, rows = traced
    assert main(["triage", "trace", rows["DiffersAfterBreak"]["case_id"], "--db", str(db),
                 "-o", str(tmp_path / "tl")]) == 0
    out = capsys.readouterr().out
    index = tmp_path / "tl" / "index.html"
    assert f"rendered: {index}" in out
    html = index.read_text()
    assert "DiffersAfterBreak" in html or "models.py" in html     # tlparse's stack of the compiled frame


def test_triage_trace_of_a_case_without_one_is_one_line(traced, capsys):
    db, rows = traced
    assert main(["triage", "trace", rows["Fine"]["case_id"], "--db", str(db)]) == 2
    assert "has no stored torch trace" in capsys.readouterr().err


def test_trace_cap_drops_whole_records_from_the_middle():
    from capture.workers.traces import cap_records
    records = [f'V1201 00:00:00.{i:06d} 1 f.py:1] {{"event": {i}}}\n\tpayload line {i}\n' for i in range(1000)]
    text = "".join(records)
    cut, truncated = cap_records(text, 10_000)
    assert truncated and len(cut) <= 10_000
    kept = [r for r in records if r in cut]
    assert "".join(kept) == cut                       # nothing but whole records
    assert kept[0] == records[0] and kept[-1] == records[-1]   # head and tail both kept
    assert cap_records(text, len(text)) == (text, False)
