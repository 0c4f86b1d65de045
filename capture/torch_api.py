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


def explain(module: torch.nn.Module, args: list[Any], kwargs: dict[str, Any]) -> CaptureInfo:
    """Capture with the frame hook and describe graphs, breaks and guards."""
    reset()
    start = time.perf_counter()
    out = torch._dynamo.explain(module)(*args, **kwargs)
    elapsed = time.perf_counter() - start
    reasons = [break_reason_text(r) for r in out.break_reasons]
    # A frame Dynamo gave up on entirely leaves no break reason, only an
    # "unimplemented" counter (e.g. RNN modules): keep it as the reason.
    skipped = [str(k) for k in counters().get("unimplemented", {})]
    ids: list[str] = []
    for text in reasons:
        m = GB_ID.search(text)
        ids.append(m.group(1).upper() if m else "")
    skip_ids = [(m.group(1).upper() if (m := GB_ID.search(t)) else "") for t in skipped]
    return CaptureInfo(
        graph_count=int(out.graph_count),
        graph_break_count=max(0, int(out.graph_break_count)),
        skip_reasons=[first_line(t) for t in skipped],
        skip_ids=skip_ids,
        break_reasons=[first_line(r) for r in reasons],
        break_ids=ids,
        op_count=int(out.op_count),
        ops_per_graph=[len(ops) for ops in (out.ops_per_graph or [])],
        guard_count=len(out.out_guards or []),
        capture_s=elapsed,
    )


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


def same(ref: Any, res: Any, fp64_ref: Any, tol: float) -> bool:
    """torch's own accuracy check, with an fp64 reference to judge rounding."""
    from torch._dynamo.utils import same as _same
    return bool(_same(ref, res, fp64_ref=fp64_ref, tol=tol, equal_nan=True))


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
