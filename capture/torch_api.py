"""Every use of torch's private compiler APIs, in one file.

torch._dynamo's internals move between releases; keeping them here means a
torch upgrade touches this file only. Everything returns plain data.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import torch

GB_ID = re.compile(r"\b(gb\d{4})\b", re.I)


@dataclass
class CaptureInfo:
    graph_count: int
    graph_break_count: int
    break_reasons: list[str] = field(default_factory=list)
    break_ids: list[str] = field(default_factory=list)
    op_count: int = 0
    ops_per_graph: list[int] = field(default_factory=list)
    guard_count: int = 0
    capture_s: float = 0.0
    skip_reasons: list[str] = field(default_factory=list)
    skip_ids: list[str] = field(default_factory=list)


def reset() -> None:
    """Forget every compiled frame so the next capture starts cold."""
    torch._dynamo.reset()
    counters().clear()


def counters() -> Any:
    return torch._dynamo.utils.counters


def configure_for_validation() -> None:
    """Settings that make compiled output comparable with eager."""
    torch._inductor.config.fallback_random = True
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 8)


def break_reason_text(reason: Any) -> str:
    text = getattr(reason, "reason", None) or str(reason)
    return str(text)


class CountingCapture:
    """One Dynamo trace that records what `torch._dynamo.explain` would, and stays usable.

    Its backend counts each graph's ops and break reason and then runs the
    graph as is (the "eager" backend), so the same compiled object measures the
    frame hook's cost and the recompiles of a second call: one trace where
    explain + a separate eager-backend compile took two.
    """

    def __init__(self, module: torch.nn.Module, dynamic: bool | None = None) -> None:
        reset()
        self.graphs = 0
        self.ops_per_graph: list[int] = []
        self.reasons: list[str] = []
        self.guards = 0
        self._start = 0.0
        self.capture_s = 0.0

        def backend(gm: torch.fx.GraphModule, example_inputs: Any) -> Any:
            self.graphs += 1
            self.ops_per_graph.append(sum(1 for n in gm.graph.nodes if n.op == "call_function"))
            why = getattr(gm, "compile_subgraph_reason", None)
            if why is not None and getattr(why, "graph_break", False):
                self.reasons.append(break_reason_text(why))
            return gm.forward

        def guards(found: Any) -> None:
            self.guards += len(found)

        opt = torch._dynamo.optimize(backend, nopython=False, guard_export_fn=guards, dynamic=dynamic)
        inner = opt(module)

        def timed_first_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.capture_s = time.perf_counter() - start
                self.compiled = inner

        self.compiled: Any = timed_first_call

    def info(self) -> CaptureInfo:
        """What the first call captured (graph_count 0: Dynamo skipped the frame)."""
        # A frame Dynamo gave up on entirely leaves no break reason, only an
        # "unimplemented" counter (e.g. RNN modules): keep it as the reason.
        skipped = [str(k) for k in counters().get("unimplemented", {})]
        return CaptureInfo(
            graph_count=self.graphs,
            graph_break_count=max(0, self.graphs - 1),
            skip_reasons=[first_line(t) for t in skipped],
            skip_ids=[gb_id(t) for t in skipped],
            break_reasons=[first_line(r) for r in self.reasons],
            break_ids=[gb_id(r) for r in self.reasons],
            op_count=sum(self.ops_per_graph),
            ops_per_graph=list(self.ops_per_graph),
            guard_count=self.guards,
            capture_s=self.capture_s,
        )


def explain(module: torch.nn.Module, args: list[Any], kwargs: dict[str, Any]) -> CaptureInfo:
    """Capture once and describe graphs, breaks and guards (repro scripts call this;
    the case engine keeps the CountingCapture to reuse its compiled object)."""
    trace = CountingCapture(module)
    trace.compiled(*args, **kwargs)
    return trace.info()


def gb_id(text: str) -> str:
    """The GBxxxx id of a graph-break message ('' if it has none)."""
    m = GB_ID.search(text)
    return m.group(1).upper() if m else ""


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def frames_compiled() -> int:
    """Frames Dynamo has converted so far (grows on each recompile)."""
    return int(counters()["frames"]["ok"])


def compile_cache_hits() -> tuple[int, int]:
    """(hits, misses) of Inductor's FX graph cache since the last reset.

    A warm-cache compile takes seconds where a cold one takes tens: compile
    times are only comparable between cases with the same cache state.
    """
    c = counters()["inductor"]
    return int(c.get("fxgraph_cache_hit", 0)), int(c.get("fxgraph_cache_miss", 0))


# torch's compile-time metrics (torch._dynamo.utils.compilation_time_metrics: seconds per timed
# function, a list per call) that split a compile into its layers. Each phase is the named
# function's time less the nested one below it, so the phases add up to the compile.
_PHASE_TOTALS = {"dynamo": ("_compile.compile_inner", "OutputGraph.call_user_compiler"),
                 "aot_autograd": ("create_aot_dispatcher_function", "compile_fx_inner"),
                 "inductor": ("compile_fx_inner", "compile_file"),
                 "cxx_build": ("compile_file", None)}


def compile_metrics_snapshot() -> dict[str, float]:
    """Seconds torch has recorded per timed compile function so far in this process."""
    from torch._dynamo.utils import compilation_time_metrics
    return {k: float(sum(v)) for k, v in compilation_time_metrics.items()}


def compile_phases(before: dict[str, float]) -> dict[str, float]:
    """Where a compile's time went since `before`, by layer: Dynamo's trace (bytecode to FX, guards),
    AOTAutograd (functionalization, joint graph, partitioning), Inductor (lowering, scheduling,
    codegen) and the C++ build (gcc); a cache hit shows as Inductor time without a build."""
    now = compile_metrics_snapshot()
    spent = {k: now.get(k, 0.0) - before.get(k, 0.0) for k in now}
    out = {}
    for phase, (outer, inner) in _PHASE_TOTALS.items():
        value = spent.get(outer, 0.0) - (spent.get(inner, 0.0) if inner else 0.0)
        out[phase] = round(max(0.0, value), 4)
    return out


def innermost_torch_frame(tb: Any) -> str | None:
    """file:line of the deepest traceback frame inside torch (where it broke)."""
    import traceback
    found = None
    for frame in traceback.extract_tb(tb):
        if "/torch/" in frame.filename:
            path = frame.filename.split("/torch/", 1)[1]
            found = f"torch/{path}:{frame.name}"
    return found


def versions() -> dict[str, str | None]:
    try:
        import triton  # noqa: F401
        triton_version = triton.__version__
    except Exception:  # noqa: BLE001 - triton is optional on CPU
        triton_version = None
    return {"torch": torch.__version__, "triton": triton_version}


# -- training (capture/checks/training.py) ---------------------------------------------------

def scalar_loss(out: Any) -> torch.Tensor:
    """A scalar loss from a module's outputs, as PyTorch's benchmark harness reduces them.

    torch's `reduce_to_scalar_loss` knows tensors, lists, tuples, dicts and a
    few HF output types; for anything else (a tuple holding None, a dataclass)
    the mean over the floating tensors in the output is the loss.
    """
    from torch._dynamo.testing import reduce_to_scalar_loss
    from torch.utils._pytree import tree_leaves
    try:
        loss = reduce_to_scalar_loss(out)
    except (NotImplementedError, TypeError, ZeroDivisionError):
        leaves = [t for t in tree_leaves(out) if isinstance(t, torch.Tensor) and t.is_floating_point()]
        if not leaves:
            raise
        loss = sum(t.sum() / max(1, t.numel()) for t in leaves) / len(leaves)
    if not isinstance(loss, torch.Tensor):
        loss = torch.as_tensor(loss)
    return loss


def collect_results(module: torch.nn.Module, out: Any, loss: Any, inputs: Any) -> list[Any]:
    """[outputs, loss, {param.grad}, {param}, {buffer}] as torch's harness compares them."""
    from torch._dynamo.testing import collect_results as _collect
    return _collect(module, out, loss, inputs)


def backward_graphs(loss: torch.Tensor) -> int:
    """How many compiled (AOTAutograd) backward graphs this loss's backward will run."""
    seen: set[int] = set()
    stack = [loss.grad_fn]
    count = 0
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        if "CompiledFunction" in type(fn).__name__:
            count += 1
        stack.extend(nxt for nxt, _ in getattr(fn, "next_functions", ()))
    return count


def graph_stats() -> dict[str, Any]:
    """Graphs and breaks Dynamo recorded since the last reset (no extra trace needed)."""
    c = counters()
    reasons = [str(k) for k in c.get("graph_break", {})]
    skipped = [str(k) for k in c.get("unimplemented", {})]
    return {"graph_count": int(c["stats"].get("unique_graphs", 0)),
            "break_reasons": [first_line(r) for r in reasons], "break_ids": [gb_id(r) for r in reasons],
            "skip_reasons": [first_line(s) for s in skipped], "skip_ids": [gb_id(s) for s in skipped]}


# -- dynamic shapes (capture/checks/dynamic.py) ------------------------------------------------

def recompile_reasons(since: int = 0) -> list[str]:
    """The guard failure torch gives for each recompile, from its compilation metrics.

    `since` is a count from `compilation_count()` taken before the calls of interest.
    """
    from torch._dynamo.utils import get_compilation_metrics
    metrics = list(get_compilation_metrics())[since:]
    return [first_line(str(m.recompile_reason)) for m in metrics if getattr(m, "recompile_reason", None)]


def compilation_count() -> int:
    from torch._dynamo.utils import get_compilation_metrics
    return len(list(get_compilation_metrics()))


# -- structured trace (capture/workers/traces.py, issue 12) --------------------------------------

def start_structured_trace(trace_dir: str, log_file: str | None = None) -> None:
    """Start torch's structured trace (what TORCH_TRACE turns on; the format tlparse
    reads) into `trace_dir`, and the graph-break and recompile logs into `log_file`.

    Why not just the environment variable: torch reads TORCH_TRACE once, at import,
    and a worker imports torch before it forks the child of each case; so the child
    sets the variables and re-runs torch's logging set-up, after dropping the trace
    handler made at import (it has no directory, and would write nowhere).
    """
    import os

    import torch._logging._internal as internal
    os.makedirs(trace_dir, exist_ok=True)
    os.environ[internal.TRACE_ENV_VAR] = trace_dir
    os.environ[internal.LOG_ENV_VAR] = "graph_breaks,recompiles"
    if log_file:
        os.environ[internal.LOG_OUT_ENV_VAR] = log_file
    if internal.LOG_TRACE_HANDLER is not None:
        internal.trace_log.removeHandler(internal.LOG_TRACE_HANDLER)
    internal.LOG_TRACE_HANDLER = None
    internal._init_logs()


def stop_structured_trace() -> None:
    """Flush and close what start_structured_trace opened (before the child exits)."""
    import logging

    import torch._logging._internal as internal
    handler = internal.LOG_TRACE_HANDLER
    if handler is not None:
        handler.close()
    logging.shutdown()
