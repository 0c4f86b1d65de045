"""Warm the compiler in the worker before it forks case children.

Why: the first `torch.compile` in a process pays ~1.8 s of CPU (more on a
loaded machine) of lazy start-up (Dynamo, AOTAutograd, Inductor's lowerings
and code cache) even when the Inductor cache already holds the graph; the
next costs ~0.1 s. Children forked from a worker that never compiled paid it
in every case. So, once per (backend, device), the worker compiles a tiny
function through the run's backend and resets Dynamo; every child then
inherits a warm compiler and a clean Dynamo state.

Safe to fork after: Inductor's compile thread pool is off in workers
(TORCHINDUCTOR_COMPILE_THREADS=1, capture/workers/sandbox.py) and the warm-up
leaves no thread or child process behind (`threads` is checked before and
after, and the worker reports both with every result it forks for).
"""
from __future__ import annotations

import os
from typing import Any

_WARMED: dict[tuple[str, str], dict[str, Any]] = {}


def threads() -> int:
    """Threads of this process, as the kernel counts them (native ones included)."""
    return len(os.listdir("/proc/self/task"))


def _no_tqdm_monitor() -> None:
    """Inductor shows a tqdm bar on a cold compile; tqdm (in the crawl environment) then starts its
    monitor thread, which would be alive at every fork. Bars still work without the monitor."""
    try:
        import tqdm
    except ImportError:
        return
    tqdm.tqdm.monitor_interval = 0


def warm(backend: str, device: str) -> dict[str, Any]:
    """Compile once through `backend` on `device` (first call per pair only); never raises.

    Returns what the warm-up did: its CPU seconds, the thread counts before and
    after, and the error if the backend could not compile (the case will say why).
    """
    key = (backend, device)
    if key in _WARMED:
        return _WARMED[key]
    import torch

    from capture import torch_api
    from capture.checks.steps import process_cpu_s

    _no_tqdm_monitor()
    info: dict[str, Any] = {"threads_before": threads()}
    start = process_cpu_s()
    try:
        module = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()).to(device)
        x = torch.randn(2, 4, device=device)
        with torch.no_grad():
            torch_api.CountingCapture(module).compiled(x)       # the capture step's path (two traces)
            torch.compile(module, backend=backend)(x)           # the compile step's
            torch_api.reset()
            compiler = torch_api.compile_backend(backend)       # one trace: capture and compile together
            torch_api.CountingCapture(module, compiler=compiler).compiled(x)
    except Exception as exc:  # noqa: BLE001 - a backend that cannot compile here fails its cases, not the worker
        info["error"] = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        torch_api.reset()
    info.update(cpu_s=round(process_cpu_s() - start, 3), threads_after=threads())
    _WARMED[key] = info
    return info
