"""Synthetic databases for the report, compare and triage tests (no tests here).

Rows go through the Store API and look like real results (the fields the
worker writes). `make_report_db(path)` is the one function to swap for a
fixture that crawls real fixture repos: tests only need a db path and the
expectations below.

Run "r1" (11 cases, 2 projects; 2 more repos without cases):
  alice/vision: Net1 pass, Net2 pass with 2 breaks, Net3 compile_failed,
                Net4 import_failed (wandb), Net5 timeout @ compile, Net6 eager_nondeterministic
  bob/nlp:      M1 compile_failed (same bug as Net3, other shape), M2 parity_failed,
                M3 import_failed (wandb.sdk), M4 crash @ import, M5 capture_failed
Run "r2": r1 with Net1 now compile_failed (regression), Net3 now pass, Net2's compile
  time x2.5. Run "r3": r1 with only improvements (Net3 passes, M2 faster compile).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from db.store import Store, module_id

SHA_A = "a" * 40
SHA_B = "b" * 40

REPOS = [
    {"id": "alice/vision", "url": "https://github.com/alice/vision", "owner": "alice", "name": "vision",
     "stars": 120},
    {"id": "bob/nlp", "url": "https://github.com/bob/nlp", "owner": "bob", "name": "nlp", "stars": 40},
    {"id": "carol/empty", "url": "https://github.com/carol/empty", "owner": "carol", "name": "empty", "stars": 5},
    {"id": "dave/broken", "url": "https://github.com/dave/broken", "owner": "dave", "name": "broken", "stars": 1},
]

SPEC = {"version": 1, "seed": 0, "mode": "eval", "no_grad": True, "init": {"args": [], "kwargs": {}},
        "inputs": {"args": [{"kind": "tensor", "shape": [2, 4], "dtype": "float32"}], "kwargs": {}}}

SHAPE_MSG_1 = "shape '[2, 3, 32]' is invalid for input of size 191"
SHAPE_MSG_2 = "shape '[4, 7]' is invalid for input of size 30"
VIEW_FRAME = "torch/_inductor/lowering.py:view"

# (repo, path, qualname, found_by, stubs, result fields)
CASES: list[tuple[str, str, str, list[str] | None, list[str] | None, dict[str, Any]]] = [
    ("alice/vision", "models/cnn.py", "Net1", ["init:defaults", "inputs:conv2d"], [], dict(
        status="pass", stage="done", graph_count=1, graph_break_count=0, break_reasons=[], break_ids=[],
        compile_s=2.0, speedup=1.5, hook_overhead_us=30.0, eager_ms=1.0, compiled_ms=0.667,
        max_abs_err=1e-6, atol=1e-3)),
    ("alice/vision", "models/cnn.py", "Net2", ["init:defaults", "inputs:linear"], ["timm"], dict(
        status="pass", stage="done", graph_count=3, graph_break_count=2,
        break_reasons=["Unsupported Tensor.item() call with capture_scalar_outputs=False",
                       "Unsupported builtin print() at 'models/cnn.py' line 12"],
        break_ids=["GB0124", ""], compile_s=8.0, speedup=0.5, hook_overhead_us=50.0, max_abs_err=0.0,
        atol=1e-3)),
    ("alice/vision", "models/cnn.py", "Net3", ["init:names", "inputs:conv2d"], [], dict(
        status="compile_failed", stage="compile", graph_count=1, graph_break_count=0, break_reasons=[],
        break_ids=[], hook_overhead_us=40.0, error_type="LoweringException", error_msg=SHAPE_MSG_1,
        error_frame=VIEW_FRAME, traceback="Traceback (most recent call last):\n  ...\nLoweringException: " + SHAPE_MSG_1)),
    ("alice/vision", "models/logger.py", "Net4", None, None, dict(
        status="import_failed", stage="import", error_type="ModuleNotFoundError",
        error_msg="No module named 'wandb'", stubs=["wandb"])),
    ("alice/vision", "models/big.py", "Net5", ["init:defaults", "inputs:conv2d"], [], dict(
        status="timeout", stage="compile", error_type="Timeout",
        error_msg="no result after 300 s (in stage compile); process group killed")),
    ("alice/vision", "models/noise.py", "Net6", ["init:defaults", "inputs:linear"], [], dict(
        status="eager_nondeterministic", stage="done", graph_count=1, graph_break_count=0,
        break_reasons=[], break_ids=[], compile_s=4.0, speedup=2.0, hook_overhead_us=20.0,
        max_abs_err=1e-5, atol=1e-3, nondeterministic=True)),
    ("bob/nlp", "nlp/layers.py", "M1", ["init:names", "inputs:embedding"], ["transformers"], dict(
        status="compile_failed", stage="compile", graph_count=1, graph_break_count=0, break_reasons=[],
        break_ids=[], error_type="LoweringException", error_msg=SHAPE_MSG_2, error_frame=VIEW_FRAME,
        traceback="Traceback (most recent call last):\n  ...\nLoweringException: " + SHAPE_MSG_2)),
    ("bob/nlp", "nlp/layers.py", "M2", ["init:names", "inputs:linear"], [], dict(
        status="parity_failed", stage="parity", graph_count=2, graph_break_count=1,
        break_reasons=["Unsupported Tensor.item() call with capture_scalar_outputs=False"],
        break_ids=["GB0124"], compile_s=1.0, speedup=1.0, hook_overhead_us=-5.0, max_abs_err=0.5,
        atol=1e-3, error_type="AssertionError",
        error_msg="compiled output differs from eager beyond tol=0.001: max_abs_err=0.5, rmse=0.1, cosine=0.9")),
    ("bob/nlp", "nlp/extra.py", "M3", None, None, dict(
        status="import_failed", stage="import", error_type="ModuleNotFoundError",
        error_msg="No module named 'wandb.sdk'", stubs=["wandb"])),
    ("bob/nlp", "nlp/native.py", "M4", None, None, dict(
        status="crash", stage="import", error_type="Killed by SIGSEGV", signal="SIGSEGV",
        error_msg="process died with SIGSEGV in stage import")),
    ("bob/nlp", "nlp/layers.py", "M5", ["init:names", "inputs:linear"], [], dict(
        status="capture_failed", stage="capture", graph_count=2, graph_break_count=1,
        break_reasons=["Data-dependent jump at 'x.sum() > 0'"], break_ids=["GB0170"],
        error_type="RuntimeError", error_msg="fullgraph=True but 1 graph break(s): Data-dependent jump")),
]

# Exact expectations for run r1 (see CASES).
EXPECTED_R1 = {
    "total": 11,
    "counts": {"eager": 8, "captured": 7, "full_graph": 4, "compiled": 4, "parity": 3, "passed": 2},
    "pct_of_runnable": {"eager": 100.0, "captured": 87.5, "full_graph": 50.0, "compiled": 50.0,
                        "parity": 37.5, "passed": 25.0},
    "pct_of_all": {"eager": 72.73, "captured": 63.64, "full_graph": 36.36, "compiled": 36.36,
                   "parity": 27.27, "passed": 18.18},
}


def case_id(repo: str, path: str, qualname: str) -> str:
    sha = SHA_A if repo == "alice/vision" else SHA_B
    return module_id(repo, sha, path, qualname)


def _run(store: Store, run_id: str, started: str, results: dict[str, dict[str, Any]]) -> None:
    store.start_run({"id": run_id, "torch": "2.13.0+cpu", "python": "3.11.9", "device": "cpu",
                     "backend": "inductor", "mode": "default", "fullgraph": 0, "started_at": started,
                     "config": {"seed": 0, "tol": 1e-3, "mode": "eval", "deduce_budget_s": 60}})
    for cid, fields in results.items():
        repo = cid.split("@", 1)[0]
        store.record_result(dict(fields, run_id=run_id, case_id=cid, module_id=cid, repo_id=repo))
    store.end_run(run_id)


def r1_results() -> dict[str, dict[str, Any]]:
    return {case_id(repo, path, q): copy.deepcopy(fields) for repo, path, q, _, _, fields in CASES}


def make_report_db(path: str | Path) -> Path:
    """A database with repos, modules, cases and runs r1, r2, r3 (see the module docstring)."""
    path = Path(path)
    with Store(path) as store:
        for repo in REPOS:
            store.upsert_repo(dict(repo, source="user"))
        for repo_id, sha in (("alice/vision", SHA_A), ("bob/nlp", SHA_B)):
            mods = [{"path": p, "qualname": q, "line": i + 1}
                    for i, (r, p, q, _, _, _) in enumerate(CASES) if r == repo_id]
            store.replace_modules(repo_id, sha, mods)
        store.replace_modules("carol/empty", "c" * 40, [])
        store.set_repo_status("dave/broken", "clone_failed", error="fatal: repository not found")
        for repo, p, q, found_by, stubs, _ in CASES:
            if found_by is not None:
                store.set_case_spec(case_id(repo, p, q), SPEC, found_by, stubs, "r1")
        r1 = r1_results()
        _run(store, "r1", "2025-01-01T00:00:00+00:00", r1)

        r2 = copy.deepcopy(r1)
        net1, net2, net3 = (case_id("alice/vision", "models/cnn.py", n) for n in ("Net1", "Net2", "Net3"))
        r2[net1] = dict(status="compile_failed", stage="compile", graph_count=1, graph_break_count=0,
                        error_type="LoweringException", error_msg=SHAPE_MSG_1, error_frame=VIEW_FRAME)
        r2[net3] = dict(r1[net1])
        r2[net2]["compile_s"] = 20.0
        _run(store, "r2", "2025-01-02T00:00:00+00:00", r2)

        r3 = copy.deepcopy(r1)
        r3[net3] = dict(r1[net1])
        r3[case_id("bob/nlp", "nlp/layers.py", "M2")]["compile_s"] = 0.2  # faster, below the floor: no note
        r3[net2]["compile_s"] = 2.0                                         # 4x faster: an improvement
        _run(store, "r3", "2025-01-03T00:00:00+00:00", r3)
    return path


def read_json(text: str) -> Any:
    return json.loads(text)
