"""`graphcrawl triage repro CASE -o repro.py`: a standalone script that reproduces a case.

A tiny git repository (file:// URL) holds the modules; the database says how
a run (backend "eager", fullgraph) recorded them. One test runs the script as
a process (clone, exit code, traceback); the others load it in-process to
keep torch's import cost to once.
"""
from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from db.store import Store, module_id
from graphcrawl.cli import main

MODELS = '''
import torch
import torch.nn as nn


class Good(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return torch.relu(self.lin(x))


class Breaks(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        y = self.lin(x)
        torch._dynamo.graph_break()
        return y * 2
'''
BROKEN = 'raise ImportError("this module needs a CUDA build")\n'
SPEC = {"version": 1, "seed": 0, "mode": "eval", "no_grad": True, "init": {"args": [], "kwargs": {}},
        "inputs": {"args": [{"kind": "tensor", "shape": [2, 4], "dtype": "float32"}], "kwargs": {}}}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    """(db path, case ids by class name) for a repo crawled by a fullgraph run on backend eager."""
    root = tmp_path_factory.mktemp("repro")
    src = root / "upstream"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "models.py").write_text(MODELS)
    (src / "pkg" / "broken.py").write_text(BROKEN)
    git(src, "init", "-q")
    git(src, "add", "-A")
    git(src, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "models")
    sha = git(src, "rev-parse", "HEAD")
    mods = [("pkg/models.py", "Good"), ("pkg/models.py", "Breaks"), ("pkg/broken.py", "Cuda")]
    ids = {q: module_id("me/tiny", sha, p, q) for p, q in mods}
    db = root / "graphcrawl.db"
    with Store(db) as store:
        store.upsert_repo({"id": "me/tiny", "url": f"file://{src}", "owner": "me", "name": "tiny"})
        store.replace_modules("me/tiny", sha, [{"path": p, "qualname": q} for p, q in mods])
        for q in ("Good", "Breaks"):
            store.set_case_spec(ids[q], SPEC, ["init:defaults", "inputs:linear"], [], "run1")
        store.start_run({"id": "run1", "torch": "2.13.0+cpu", "device": "cpu", "backend": "eager",
                         "mode": "default", "fullgraph": 1, "config": {"seed": 0, "tol": 1e-3, "mode": "eval"}})
        base = {"run_id": "run1", "repo_id": "me/tiny"}
        store.record_result(dict(base, case_id=ids["Good"], module_id=ids["Good"], status="pass", stage="done",
                                 graph_count=1, graph_break_count=0))
        store.record_result(dict(base, case_id=ids["Breaks"], module_id=ids["Breaks"], status="capture_failed",
                                 stage="capture", graph_count=2, graph_break_count=1, break_ids=["GB0025"],
                                 error_type="RuntimeError",
                                 error_msg="fullgraph=True but 1 graph break(s): Call to torch._dynamo.graph_break()"))
        store.record_result(dict(base, case_id=ids["Cuda"], module_id=ids["Cuda"], status="import_failed",
                                 stage="import", error_type="ImportError",
                                 error_msg="this module needs a CUDA build"))
    return db, ids, sha


def write_script(db: Path, case: str, out: Path, *extra: str) -> Path:
    assert main(["triage", "--db", str(db), "repro", case, "-o", str(out), *extra]) == 0
    return out


@pytest.fixture
def isolated():
    """Undo what loading a crawled module does to sys.path and sys.modules."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        if name == "pkg" or name.startswith(("pkg.", "graphcrawl_case_")):
            del sys.modules[name]


def load(script: Path) -> dict:
    return runpy.run_path(str(script), run_name="graphcrawl_repro_test")


def test_script_embeds_what_it_needs(crawl, tmp_path, capsys):
    db, ids, sha = crawl
    script = write_script(db, ids["Breaks"], tmp_path / "repro.py", "--minify")
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'repro.py'}" in out and "capture_failed at capture: RuntimeError" in out
    text = script.read_text()
    compile(text, str(script), "exec")
    assert os.access(script, os.X_OK)
    emb = load(script)["EMBEDDED"]
    assert emb["case"]["sha"] == sha and emb["case"]["url"].startswith("file://")
    assert (emb["case"]["path"], emb["case"]["qualname"]) == ("pkg/models.py", "Breaks")
    assert emb["spec"] == SPEC
    assert emb["run"]["backend"] == "eager" and emb["run"]["fullgraph"] is True and emb["run"]["device"] == "cpu"
    assert emb["recorded"]["error_type"] == "RuntimeError" and len(emb["recorded"]["cluster"]) == 8
    assert emb["minify"] is True
    assert Path(emb["graphcrawl_src"], "capture", "checks", "funnels.py").is_file()
    assert "TORCHDYNAMO_REPRO_AFTER" in text and "git" in text


def test_repro_process_clones_and_fails_with_the_recorded_error(crawl, tmp_path):
    db, ids, sha = crawl
    script = write_script(db, ids["Breaks"], tmp_path / "repro.py")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=240)
    assert proc.returncode == 1, proc.stderr[-3000:]
    checkout = tmp_path / "repro_tiny"                     # default: ./repro_<name>
    assert git(checkout, "rev-parse", "HEAD") == sha
    assert "REPRODUCED: same exception type as recorded" in proc.stderr
    assert proc.stderr.rstrip().splitlines()[-1].startswith("RuntimeError: fullgraph=True but 1 graph break")


def test_repro_of_a_passing_case_and_the_ladder(crawl, tmp_path, isolated):
    db, ids, _ = crawl
    mod = load(write_script(db, ids["Good"], tmp_path / "good.py"))
    checkout = str(tmp_path / "co")
    assert mod["main"]([checkout]) == 0
    assert mod["main"]([checkout, "--no-clone", "--ladder", "--ladder-backends", "eager"]) == 0


def test_ladder_names_the_first_failing_backend(crawl, tmp_path, isolated, capsys):
    db, ids, _ = crawl
    mod = load(write_script(db, ids["Breaks"], tmp_path / "breaks.py"))
    assert mod["main"]([str(tmp_path / "co"), "--ladder", "--ladder-backends", "eager,aot_eager"]) == 1
    out = capsys.readouterr().out
    # the case's own steps: its fullgraph capture step fails before any backend compiles
    assert "eager: FAIL at capture: RuntimeError: fullgraph=True but 1 graph break" in out
    assert "first failing backend: eager" in out and "aot_eager" not in out


def test_import_failure_reproduces_its_exception_type(crawl, tmp_path, isolated, capsys):
    db, ids, _ = crawl
    mod = load(write_script(db, ids["Cuda"], tmp_path / "cuda.py"))
    with pytest.raises(ImportError, match="needs a CUDA build"):
        mod["main"]([str(tmp_path / "co")])
    assert "REPRODUCED" in capsys.readouterr().err


def test_minify_sets_torch_minifier_config(crawl, tmp_path, isolated, monkeypatch):
    import torch._dynamo.config as dcfg
    db, ids, _ = crawl
    mod = load(write_script(db, ids["Breaks"], tmp_path / "m.py", "--minify"))
    monkeypatch.setattr(dcfg, "repro_after", dcfg.repro_after)
    monkeypatch.setattr(dcfg, "repro_level", dcfg.repro_level)
    for var in ("TORCHDYNAMO_REPRO_AFTER", "TORCHDYNAMO_REPRO_LEVEL"):
        # setenv first: delenv of an unset variable records nothing, so what setup_minifier sets would
        # outlive the test and reach later crawls' workers (repro level 4 re-runs graphs: dropout parity)
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    mod["setup_minifier"]("aot", {"status": "parity_failed"})
    assert dcfg.repro_after == "aot" and dcfg.repro_level == 4
    assert os.environ["TORCHDYNAMO_REPRO_AFTER"] == "aot"


def test_unknown_case_is_a_clean_error(crawl, tmp_path, capsys):
    db, _, _ = crawl
    rc = main(["triage", "--db", str(db), "repro", "nope", "-o", str(tmp_path / "x.py")])
    assert rc == 2 and "no case 'nope'" in capsys.readouterr().err
