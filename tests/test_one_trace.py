"""One Dynamo trace for capture and compile (issue 18): the figures are those of two traces.

The inference check used to trace each module twice: with a counting eager
backend (capture figures, the frame-hook measurement), then under Inductor.
Now the counting backend also compiles, and each guarded frame runs either the
compiled graph or the captured one. What must hold, on real sandboxed workers
and real Inductor compiles: the same statuses, graphs, breaks, ops, guards and
recompiles as two traces, for passing modules and for every way of failing
(where the one trace raises, the two-trace steps decide, so the status and its
stage are the same); and the hook measurement runs the graphs as captured,
never what the compiler made of them.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from capture import torch_api
from capture.workers.pool import WorkerPool
from capture.workers.sandbox import SandboxConfig, bwrap_problem
from tests.triage_fixtures import relu_bug_source

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


class Breaks(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)

    def forward(self, x):
        y = self.a(x)
        torch._dynamo.graph_break()
        return torch.tanh(y) * 2


class Counts(nn.Module):
    """A Python int attribute that changes with every call: a guard fails, the frame recompiles."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x * self.calls


class NoOps(nn.Module):
    def forward(self, x):
        return x
'''

# Each bug file is triage's ReluBug under one kind of Inductor's own test hook (its C++ relu fails to
# compile / raises when run / computes relu(x) + 1), plus this module.
ITEM_SIZE = '''

class ItemSize(nn.Module):
    """A graph's output used as a size in Python: the compiled graph and the graph as captured can give
    different sizes (under the accuracy bug they do), so a second call that switched versions would
    see another int and recompile (it did: recompiles 1 against 0 with two traces)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        n = int(torch.relu(self.lin(x)).sum().item()) % 3 + 1
        return x.repeat(n, 1)
'''

FIGURES = ("status", "stage", "error_type", "graph_count", "graph_break_count", "break_ids", "op_count",
           "ops_per_graph", "guard_count", "recompiles", "reason")
CASES = {"m.py:TwoLayers": "pass", "m.py:Breaks": "pass", "m.py:Counts": "eager_nondeterministic", "m.py:NoOps": "capture_failed",
         "compile_error.py:ReluBug": "compile_failed", "runtime_error.py:ReluBug": "run_failed",
         "accuracy.py:ReluBug": "parity_failed", "accuracy.py:ItemSize": "pass"}


@pytest.fixture(scope="module")
def replies(tmp_path_factory: pytest.TempPathFactory, session_workdir: Path) -> dict[tuple[str, bool], dict]:
    base = tmp_path_factory.mktemp("onetrace")
    os.chmod(base, 0o755)
    repo = base / "repo"
    repo.mkdir()
    (repo / "m.py").write_text(MODELS)
    for kind in ("compile_error", "runtime_error", "accuracy"):
        (repo / f"{kind}.py").write_text(relu_bug_source(kind) + ITEM_SIZE)
    os.chmod(repo, 0o755)
    cfg = SandboxConfig(scratch_root=base / "scratch", cache_dir=session_workdir / "cache-one-trace-test",
                        readonly=[repo], unsafe=bwrap_problem() is not None)
    requests = []
    for case in CASES:
        path, qualname = case.split(":")
        for single in (True, False):
            requests.append({"case_id": f"{case}:{single}", "checkout": str(repo), "path": path,
                             "qualname": qualname, "backend": "inductor", "single_trace": single,
                             "timeout_s": 240, "mem_mb": 6144, "max_procs": 256})
    out: dict[tuple[str, bool], dict] = {}

    def keep(reply) -> None:
        case, single = reply.request["case_id"].rsplit(":", 1)
        out[(case, single == "True")] = reply.result
    WorkerPool(2, cfg).map(requests, keep)
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_trace_gives_the_figures_of_two(replies: dict, case: str) -> None:
    one, two = replies[(case, True)], replies[(case, False)]
    assert one["status"] == CASES[case], one.get("error_msg")
    assert {k: one.get(k) for k in FIGURES} == {k: two.get(k) for k in FIGURES}
    assert two["traces"] == 2


def test_a_passing_case_is_traced_once(replies: dict) -> None:
    for case, status in CASES.items():
        one = replies[(case, True)]
        # the capture failure ends after its one trace; a compile or run failure is traced again
        expected = 1 if status in ("pass", "parity_failed", "capture_failed", "eager_nondeterministic") else 2
        assert one["traces"] == expected, case
    passing = replies[("m.py:TwoLayers", True)]
    assert passing["hook_samples"] > 0 and passing["hook_ms"] > 0
    assert passing["capture_s"] == pytest.approx(passing["compile_phases"]["dynamo"], abs=1e-3)
    assert "compile" in passing["stage_s"] and "capture" in passing["stage_s"]
    assert replies[("m.py:Counts", True)]["recompiles"] >= 1


def test_a_capture_failure_keeps_no_compile_figures(replies: dict) -> None:
    one = replies[("m.py:NoOps", True)]
    assert one["reason"] == "no_tensor_ops" and one.get("compile_s") is None and one.get("compile_cache") is None


def test_the_hook_runs_the_captured_graph_not_the_compiled_one(tmp_path: Path) -> None:
    """With Inductor made to compute relu(x) + 1, the hooked call still gives eager's output."""
    module = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()).eval()
    x = torch.randn(3, 4)
    with torch._inductor.config.patch({"cpp.inject_relu_bug_TESTING_ONLY": "accuracy",
                                       "fx_graph_cache": False}), torch.no_grad():
        trace = torch_api.CountingCapture(module, compiler=torch_api.compile_backend("inductor"))
        first = trace.compiled(x)
        hooked, compiled, eager = trace.hooked(x), trace.run(x), module(x)
    torch_api.reset()
    assert torch.equal(hooked, eager)
    assert torch.allclose(first, compiled) and not torch.allclose(compiled, eager)
    assert trace.info().graph_count == 1 and trace.info().op_count == 2
