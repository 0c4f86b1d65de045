"""`triage repro CASE --minify`: torch's own minifier shrinks a real backend failure.

The fixture (tests/triage_fixtures.py RELU_BUG) turns on Inductor's test hook that
makes its C++ relu compute relu(x) + 1, so Inductor's output differs from eager:
the crawl (real bwrap, real Inductor) records parity_failed; the repro script,
run as a fresh process from the stored case alone, reproduces it with
TORCHDYNAMO_REPRO_AFTER=aot at accuracy level 4, runs torch's minifier_launcher.py
and leaves a minified repro whose graph is the relu alone.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from db.store import Store
from graphcrawl.cli import main
from tests.conftest import sandbox_flags
from tests.triage_fixtures import make_relu_bug_repo

ROOT = Path(__file__).resolve().parents[1]


def test_minify_a_parity_failure_of_inductor(tmp_path, session_workdir, capsys):
    repo = make_relu_bug_repo(tmp_path)
    db = tmp_path / "m.db"
    assert main(["crawl", "--db", str(db), "--repo", str(repo), "--workdir", str(session_workdir), "--workers", "1",
                 "--timeout", "300", "--no-progress", *sandbox_flags()]) == 0
    with Store(db, readonly=True) as store:
        (row,) = store.db.query("select case_id, status, stage from results")
    assert (row["status"], row["stage"]) == ("parity_failed", "parity")
    script = tmp_path / "repro_relu.py"
    assert main(["triage", "repro", row["case_id"], "--db", str(db), "--minify", "-o", str(script)]) == 0
    capsys.readouterr()
    co = tmp_path / "co" / "relubug"
    proc = subprocess.run([sys.executable, str(script), str(co)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=900, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode != 0                                   # the failure itself still fails the script
    assert "minifier on: repro_after='aot' repro_level=4" in proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("minified repro: "))
    minified = Path(line.split(": ", 1)[1])
    assert minified.is_file() and minified.parent.parent == tmp_path / "co"
    assert minified.parent.name.startswith("minify_relubug")
    forward = minified.read_text().split("def forward", 1)[1].split("def load_args", 1)[0]
    assert "torch.ops.aten.relu" in forward                       # the bug's op survives ...
    assert "aten.mul" not in forward and "aten.addmm" not in forward   # ... the rest is minified away
    assert "inject_relu_bug_TESTING_ONLY = 'accuracy'" in minified.read_text()
