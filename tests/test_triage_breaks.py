"""`graphcrawl triage breaks`: graph breaks by id and reason, passing and failing cases alike,
on a real crawl (tests/triage_fixtures.py: one passing and one failing module break alike)."""
from __future__ import annotations

import json

from graphcrawl.cli import main


def test_breaks_group_passing_and_failing_cases(triage_crawl, capsys):
    assert main(["triage", "breaks", "--db", str(triage_crawl), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    explicit = [g for g in data["groups"] if "graph_break" in g["example_reason"] or g["id"]]
    top = max(data["groups"], key=lambda g: g["cases"])
    assert top["cases"] == 2 and top["passing"] == 1            # PassesWithBreak passes, DiffersAfterBreak not
    assert top["statuses"] == {"parity_failed": 1, "pass": 1}
    assert top["id"].startswith("GB") and explicit
    assert {e.rsplit(":", 1)[1] for e in top["examples"]} == {"PassesWithBreak", "DiffersAfterBreak"}


def test_breaks_table_has_repro_commands(triage_crawl, capsys):
    assert main(["triage", "breaks", "--db", str(triage_crawl)]) == 0
    out = capsys.readouterr().out
    assert "Graph breaks by id and reason" in out and "a case can pass with breaks" in out
    assert "graphcrawl triage repro" in out and "-o repro.py" in out
