"""Latency by median of interleaved repeats.

Interleaving (a, b, a, b, ...) makes both sides see the same machine load;
the median ignores the stragglers a shared 2-core machine produces.
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import torch


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _inner_count(fn: Callable[[], Any], device: str, target_s: float = 0.002) -> int:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, min(1000, int(target_s / once)))


def interleaved_ms(fns: list[Callable[[], Any]], *, device: str = "cpu", repeats: int = 15,
                   budget_s: float = 3.0) -> list[float]:
    """Median milliseconds per call of each fn, measured interleaved."""
    inner = min(_inner_count(fn, device) for fn in fns)
    samples: list[list[float]] = [[] for _ in fns]
    deadline = time.perf_counter() + budget_s
    for r in range(repeats):
        for i, fn in enumerate(fns):
            _sync(device)
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            _sync(device)
            samples[i].append((time.perf_counter() - start) * 1000 / inner)
        if r >= 2 and time.perf_counter() > deadline:
            break
    return [statistics.median(s) for s in samples]
