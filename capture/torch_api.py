"""Every use of torch's private compiler APIs, in one file.

torch._dynamo's internals move between releases; keeping them here means a
torch upgrade touches this file only. Everything returns plain data.
"""
from __future__ import annotations

import copy
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


def compile_backend(backend: str = "inductor", mode: str | None = None, dynamic: bool | None = None) -> Any:
    """The compiler `torch.compile(backend=..., mode=..., dynamic=...)` would hand Dynamo, built the
    way torch.compile builds it, so a trace that wraps it compiles exactly as torch.compile does."""
    if backend == "inductor":
        return torch._TorchCompileInductorWrapper(mode, None, dynamic)
    return torch._TorchCompileWrapper(backend, mode, None, dynamic)


class CountingCapture:
    """One Dynamo trace that records what `torch._dynamo.explain` would, and stays usable.

    Its backend counts each graph's ops and break reason. Without `compiler` it
    then runs the graph as is (the "eager" backend), so the same object measures
    the frame hook's cost and the recompiles of a second call: one trace where
    explain + a separate eager-backend compile took two.

    `on_graph(info)` hears the figures so far each time a graph is counted.

    With `compiler` (from `compile_backend`) it also compiles each graph, and
    each guarded frame then runs either version of its graph: `compiled` calls
    run what the compiler made, `hooked` calls the graph as is. One Dynamo trace
    then gives the capture figures, the frame-hook measurement (the same guards
    and frames, the graph run eagerly) and the compiled module, where the
    capture step and the compile step traced the module once each.
    """

    def __init__(self, module: torch.nn.Module, dynamic: bool | None = None, compiler: Any = None,
                 on_graph: Any = None) -> None:
        reset()
        self.graphs = 0
        self.ops_per_graph: list[int] = []
        self.reasons: list[str] = []
        self.guards = 0
        self.capture_s = 0.0
        self.run_compiled = compiler is not None   # which version a guarded frame runs
        self.first_call = False
        state = self

        def count(gm: torch.fx.GraphModule) -> None:
            state.graphs += 1
            state.ops_per_graph.append(sum(1 for n in gm.graph.nodes if n.op == "call_function"))
            why = getattr(gm, "compile_subgraph_reason", None)
            if why is not None and getattr(why, "graph_break", False):
                state.reasons.append(break_reason_text(why))
            if on_graph is not None and state.first_call:   # before the compiler: a compile killed later
                on_graph(state.info())                          # keeps what was counted (recompiles are not)

        def guards(found: Any) -> None:
            state.guards += len(found)

        if compiler is None:
            def backend(gm: torch.fx.GraphModule, example_inputs: Any) -> Any:
                count(gm)
                return gm.forward
        else:
            backend = _EitherBackend(compiler, count, state)
        opt = torch._dynamo.optimize(backend, nopython=False, guard_export_fn=guards, dynamic=dynamic)
        inner = opt(module)

        def timed_first_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            self.first_call = True
            try:
                return inner(*args, **kwargs)
            finally:
                self.first_call = False
                self.capture_s = time.perf_counter() - start
                self.compiled = inner

        self.compiled: Any = timed_first_call
        self._inner = inner

    def hooked(self, *args: Any, **kwargs: Any) -> Any:
        """A call through the guarded frames that runs each graph as captured (the hook measurement)."""
        self.run_compiled = False
        return self._inner(*args, **kwargs)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """A call through the guarded frames that runs what the compiler made of each graph."""
        self.run_compiled = True
        return self._inner(*args, **kwargs)

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


class _EitherBackend:
    """A Dynamo backend that counts a graph, compiles it, and returns a function running the compiled
    version or the graph as captured, as its CountingCapture says. It carries the wrapped compiler's
    name, config and reset, which Dynamo reads off a backend."""

    def __init__(self, compiler: Any, count: Any, state: CountingCapture) -> None:
        self.compiler, self.count, self.state = compiler, count, state
        self.compiler_name = getattr(compiler, "compiler_name", "compiler")
        self.dynamic = getattr(compiler, "dynamic", None)

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: Any) -> Any:
        self.count(gm)
        # the graph as captured, before the compiler's own passes may rewrite gm in place
        captured = torch.fx.GraphModule(gm, copy.deepcopy(gm.graph))
        if hasattr(type(captured), "force_recompile"):   # a lazy GraphModule: its code now, not at the first call
            type(captured).force_recompile(captured)
        as_captured = captured.forward
        made = self.compiler(gm, example_inputs)
        state = self.state

        def either(*args: Any) -> Any:
            return made(*args) if state.run_compiled else as_captured(*args)
        return either

    def get_compiler_config(self) -> Any:
        get = getattr(self.compiler, "get_compiler_config", None)
        return get() if get else None

    def reset(self) -> None:
        if hasattr(self.compiler, "reset"):
            self.compiler.reset()


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
    few HF output types; for anything else (a tuple holding None, a dataclass, a
    distribution) the mean over the floating tensors in the output is the loss.
    """
    from torch._dynamo.testing import reduce_to_scalar_loss

    from backend.parity import tensors
    try:
        loss = reduce_to_scalar_loss(out)
    except (NotImplementedError, TypeError, ZeroDivisionError):
        leaves = [t for t in tensors(out) if t.is_floating_point()]  # result objects opened (a Normal's loc)
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


# -- torch.export and AOTInductor (capture/checks/export.py, issue 17) --------------------------

# Why classes: "what share of models cannot be exported, and why" is answered by a handful of
# causes torch itself distinguishes by exception type, structured field or the frame it raised
# in; message text changes between releases, those change less.
EXPORT_CLASSES = ("data_dependent", "unsupported_python", "no_fake_kernel", "constraint_violation",
                  "not_pytree", "other")


def export_program(module: torch.nn.Module, args: list[Any], kwargs: dict[str, Any], strict: bool,
                   dynamic_shapes: Any = None) -> Any:
    """torch.export.export of the module at these inputs (an ExportedProgram)."""
    return torch.export.export(module, tuple(args), dict(kwargs), strict=strict, dynamic_shapes=dynamic_shapes)


def _chain(exc: BaseException | None) -> list[BaseException]:
    out: list[BaseException] = []
    while exc is not None and all(exc is not e for e in out):
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def torch_frames(exc: BaseException) -> list[str]:
    """'path:function' of every traceback frame inside torch, outermost first, over the exception's chain."""
    import traceback
    frames: list[str] = []
    for e in _chain(exc):
        for f in traceback.extract_tb(e.__traceback__):
            if "/torch/" in f.filename:
                frames.append(f"{f.filename.split('/torch/', 1)[1]}:{f.name}")
    return frames


def export_failure_class(exc: BaseException, strict: bool) -> str:
    """One of EXPORT_CLASSES for an export failure, from exception types, torch's structured
    fields (Unsupported.gb_type, UserError.error_type) and the frames torch raised in."""
    from torch._dynamo.exc import Unsupported, UserError, UserErrorType
    from torch._subclasses.fake_tensor import (DataDependentOutputException, DynamicOutputShapeException,
                                               UnsupportedOperatorException)
    from torch.fx.experimental.symbolic_shapes import ConstraintViolationError, GuardOnDataDependentSymNode
    chain = _chain(exc)
    frames = torch_frames(exc)
    if any(isinstance(e, UnsupportedOperatorException) for e in chain) or \
            any(f.startswith("_library/") and f.endswith(":fake_impl") for f in frames) or \
            any(isinstance(e, NotImplementedError) for e in chain) and \
            any(f.startswith("_subclasses/fake_tensor.py:") for f in frames):
        return "no_fake_kernel"
    user_types = {getattr(e, "error_type", None) for e in chain if isinstance(e, UserError)}
    if any(isinstance(e, (GuardOnDataDependentSymNode, DataDependentOutputException, DynamicOutputShapeException))
           for e in chain) or UserErrorType.DYNAMIC_CONTROL_FLOW in user_types or \
            any(isinstance(e, Unsupported) and "data-dependent" in str(getattr(e, "gb_type", "")).lower()
                for e in chain):
        return "data_dependent"
    if any(isinstance(e, ConstraintViolationError) for e in chain) or \
            user_types & {UserErrorType.CONSTRAINT_VIOLATION, UserErrorType.DYNAMIC_DIM}:
        return "constraint_violation"
    if user_types & {UserErrorType.INVALID_INPUT, UserErrorType.INVALID_OUTPUT} or \
            any(f.startswith("utils/_pytree.py:") for f in frames[-3:]) or \
            frames and frames[-1] == "_functorch/_aot_autograd/utils.py:flat_fn" or \
            any(isinstance(e, AssertionError) for e in chain) and frames and \
            frames[-1] == "_dynamo/output_graph.py:compile_subgraph":
        return "not_pytree"   # inputs or outputs torch.export cannot flatten (no registered pytree)
    if strict and any(isinstance(e, Unsupported) for e in chain):
        return "unsupported_python"   # Dynamo cannot trace it as one graph: a graph break is fatal here
    return "other"


def draft_export_report(module: torch.nn.Module, args: list[Any], kwargs: dict[str, Any],
                        limit: int = 20) -> dict[str, Any]:
    """torch.export.draft_export's report: each issue torch found, compact (type, what, where).

    draft_export traces through data-dependent guards and missing fake kernels, so it
    lists every issue where export stops at the first; it may still fail itself.
    """
    import os
    try:
        ep = torch.export.draft_export(module, tuple(args), dict(kwargs))
    except Exception as exc:  # noqa: BLE001 - its own failure is part of the report
        return {"ok": False, "error": first_line(f"{type(exc).__name__}: {exc}")[:300], "failures": []}
    report = getattr(ep, "_report")
    names = dict(getattr(report, "str_to_filename", {}) or {})
    try:   # with torch's structured trace on (as in a crawl's worker) filenames are interned there
        from torch._logging.structured import INTERN_TABLE
        names.update({v: k for k, v in INTERN_TABLE.items() if v not in names})
    except (ImportError, AttributeError):
        pass
    failures = []
    for f in list(report.failures)[:limit]:
        data = f.data if isinstance(f.data, dict) else {}
        user = [fr for fr in data.get("user_stack") or [] if isinstance(fr, dict)
                and "/torch/" not in str(names.get(fr.get("filename"), fr.get("filename")))]
        where = user[-1] if user else {}
        path = str(names.get(where.get("filename"), where.get("filename") or ""))
        failures.append({
            "type": getattr(f.failure_type, "name", str(f.failure_type)),
            "what": str(data.get("expr") or data.get("op") or "")[:200],
            "where": f"{os.path.basename(path)}:{where.get('line')} {where.get('name')}: {where.get('loc', '')}"[:300]
            if where else "",
            "text": " ".join(f.print(names).split())[:400],
        })
    return {"ok": True, "failures": failures, "count": len(report.failures)}


def batch_dynamic_shapes(module: torch.nn.Module, args: list[Any], kwargs: dict[str, Any],
                         new_args: list[Any], new_kwargs: dict[str, Any]) -> tuple[Any, list[tuple[int, int]]]:
    """dynamic_shapes for export with Dim.AUTO on every dimension that differs between the stored
    inputs and the same inputs at another size; and the (input index, dim) pairs marked."""
    from torch.export import Dim, ShapesCollection
    from torch.utils._pytree import tree_leaves
    old, new = tree_leaves((list(args), dict(kwargs))), tree_leaves((list(new_args), dict(new_kwargs)))
    sc = ShapesCollection()
    marked: list[tuple[int, int]] = []
    for i, (a, b) in enumerate(zip(old, new)):
        if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dim() == b.dim():
            dims = [d for d in range(a.dim()) if a.shape[d] != b.shape[d]]
            if dims:
                sc[a] = {d: Dim.AUTO for d in dims}
                marked.append((i, dims[0]))
    return (sc.dynamic_shapes(module, tuple(args), dict(kwargs)) if marked else None), marked


def symbolic_input_dims(ep: Any) -> list[list[bool]]:
    """Per user input tensor of an ExportedProgram: which dimensions stayed symbolic (dynamic)."""
    user = set(ep.graph_signature.user_inputs)
    out = []
    for node in ep.graph.nodes:
        if node.op == "placeholder" and node.name in user and isinstance(node.meta.get("val"), torch.Tensor):
            out.append([not isinstance(d, int) for d in node.meta["val"].shape])
    return out


def save_program(ep: Any, path: str) -> None:
    torch.export.save(ep, path)


def load_program(path: str) -> Any:
    return torch.export.load(path)


def aoti_compile(ep: Any, path: str) -> str:
    """AOTInductor: compile the exported program into a .pt2 package (C++/OpenMP on CPU,
    Triton on CUDA: the device of the program's tensors decides)."""
    return torch._inductor.aoti_compile_and_package(ep, package_path=path)


def aoti_load(path: str) -> Any:
    return torch._inductor.aoti_load_package(path)
