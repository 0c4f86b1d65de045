"""Latency by median of interleaved repeats, stopping once the medians are precise enough.

Interleaving (a, b, a, b, ...) makes both sides see the same machine load;
the median ignores the stragglers a shared 2-core machine produces. Repeats
stop as soon as every median's standard error is within `rel_precision` of it
(at least `min_repeats` samples), or when the budget is spent: a fast, steady
module is timed in a fraction of the budget a noisy one gets.
"""
from __future__ import annotations

import math
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


def precise(samples: list[float], rel_precision: float) -> bool:
    """Whether the median of `samples` is known to within rel_precision (its standard error,
    ~1.25 sigma/sqrt(n) for the median of near-normal samples)."""
    if len(samples) < 3:
        return False
    med = statistics.median(samples)
    if med <= 0:
        return True
    return 1.2533 * statistics.stdev(samples) / math.sqrt(len(samples)) <= rel_precision * med


def interleaved_ms(fns: list[Callable[[], Any]], *, device: str = "cpu", repeats: int = 15,
                   budget_s: float = 1.5, min_repeats: int = 3, rel_precision: float = 0.02) -> list[float]:
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
        if r + 1 >= min_repeats and (time.perf_counter() > deadline
                                     or all(precise(s, rel_precision) for s in samples)):
            break
    return [statistics.median(s) for s in samples]
