"""Warm before fork: the worker compiles once, then forks cases that inherit a warm compiler.

Real sandboxed workers and real Inductor compiles. What must hold: no thread
is left running in the worker at fork time by the warm-up, a case does not see
the warm-up's (or another case's) Dynamo state, and results are the same with
and without warming.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from capture.workers.pool import WorkerPool
from capture.workers.sandbox import SandboxConfig, bwrap_problem

MODELS = '''
import torch
import torch.nn as nn


class TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 16)
        self.b = nn.Linear(16, 4)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))
'''


@pytest.fixture(scope="module")
def replies(tmp_path_factory: pytest.TempPathFactory, session_workdir: Path) -> dict[str, dict]:
    base = tmp_path_factory.mktemp("warm")
    os.chmod(base, 0o755)
    repo = base / "repo"
    repo.mkdir()
    (repo / "m.py").write_text(MODELS)
    os.chmod(repo, 0o755)
    cfg = SandboxConfig(scratch_root=base / "scratch", cache_dir=session_workdir / "cache-warm-test",
                        readonly=[repo], unsafe=bwrap_problem() is not None)
    req = {"checkout": str(repo), "path": "m.py", "qualname": "TwoLayers", "backend": "inductor",
           "timeout_s": 240, "mem_mb": 6144, "max_procs": 256}
    requests = [dict(req, case_id="first"), dict(req, case_id="second"), dict(req, case_id="cold", warm=False)]
    out: dict[str, dict] = {}
    WorkerPool(1, cfg).map(requests, lambda r: out.__setitem__(r.request["case_id"], r.result))
    return out


def test_the_warm_up_leaves_no_thread_behind_at_fork(replies: dict[str, dict]) -> None:
    worker = replies["first"]["worker"]
    assert worker["warm_error"] is None and worker["warm_cpu_s"] > 0
    assert worker["threads_at_fork"] == worker["threads_before_warm"]
    assert replies["second"]["worker"]["threads_at_fork"] == worker["threads_before_warm"]


def test_a_case_sees_no_dynamo_state_but_its_own(replies: dict[str, dict]) -> None:
    """The second case in the same warm worker captures and compiles exactly what the first did."""
    keys = ("status", "graph_count", "graph_break_count", "op_count", "guard_count", "recompiles")
    first, second = ({k: replies[n][k] for k in keys} for n in ("first", "second"))
    assert first == second and first["status"] == "pass" and first["recompiles"] == 0


def test_results_are_the_same_without_warming(replies: dict[str, dict]) -> None:
    keys = ("status", "graph_count", "graph_break_count", "op_count", "guard_count", "recompiles")
    assert {k: replies["cold"][k] for k in keys} == {k: replies["first"][k] for k in keys}
    assert replies["cold"]["worker"]["warm_cpu_s"] is None
    assert replies["cold"]["max_abs_err"] == pytest.approx(replies["first"]["max_abs_err"], abs=1e-6)


def test_the_compile_is_split_by_torchs_own_metrics(replies: dict[str, dict]) -> None:
    first, second = replies["first"], replies["second"]
    for row in (first, second):
        assert set(row["compile_phases"]) == {"dynamo", "aot_autograd", "inductor", "cxx_build"}
        assert row["compile_phases"]["dynamo"] > 0
        assert sum(row["compile_phases"].values()) <= row["compile_s"] + 1e-3
    # the second compile of the same graph is an Inductor cache hit: no C++ build
    assert second["compile_cache"] == "hit" and second["compile_phases"]["cxx_build"] == 0
