"""Latency by median of interleaved repeats, and overhead from paired CPU-time repeats.

Interleaving (a, b, a, b, ...) makes both sides see the same machine load;
the median ignores the stragglers a shared 2-core machine produces. Repeats
stop as soon as every median's standard error is within `rel_precision` of it
(at least `min_repeats` samples), or when the budget is spent: a fast, steady
module is timed in a fraction of the budget a noisy one gets.
`paired_overhead` goes further for a small difference (the frame hook's cost):
the thread's own CPU time, paired differences and a stated confidence interval.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import torch


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _inner_count(fn: Callable[[], Any], device: str, target_s: float = 0.002,
                 clock: Callable[[], float] = time.perf_counter) -> int:
    """Calls per sample so one sample lasts about target_s, read on the clock the samples use:
    a different clock here made the sample count depend on the machine's load, not the costs."""
    _sync(device)
    start = clock()
    fn()
    _sync(device)
    once = max(clock() - start, 1e-7)
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


# -- paired overhead: what the frame hook costs, measured so it holds on a busy machine --

@dataclass
class Overhead:
    """The extra cost of `treated` over `base` per call, from paired repeats.

    Why CPU time of the measuring thread (time.thread_time): on a loaded machine
    wall time includes the slices the OS gives other processes, which is where
    medians of -38 ms and +317 ms came from; the thread's own CPU time counts only
    the work done on it (torch runs on this thread with 1 intra-op thread). Why
    paired: each repeat times base and treated back to back (ABBA order), and the
    statistics are over the per-repeat differences, so slow phases of the machine
    hit both sides of a pair alike.
    """

    base_us: float               # median per-call microseconds of base
    treated_us: float            # median per-call microseconds of treated
    overhead_us: float           # median of the paired differences (treated - base), per call
    ci_low_us: float             # distribution-free confidence interval of that median
    ci_high_us: float
    ratio: float                 # median of the paired ratios treated / base
    ratio_ci_low: float
    ratio_ci_high: float
    n: int                       # pairs measured
    confidence: float            # of the intervals (0.95)
    noise: float                 # relative spread of base: (p75 - p25) / median
    clock: str                   # "thread_time" or "perf_counter"

    @property
    def ci_half_width_us(self) -> float:
        return (self.ci_high_us - self.ci_low_us) / 2

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_Z = {0.90: 1.6449, 0.95: 1.9600, 0.99: 2.5758}


def median_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(median, low, high): the median and its distribution-free confidence interval.

    The interval is between two order statistics, x_(j) and x_(k) with
    j, k = n/2 -/+ z*sqrt(n)/2 (the normal approximation of the binomial count
    of values below the median), so it assumes nothing about the shape of the
    distribution: right for timings, whose tails are long and one-sided.
    """
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        raise ValueError("no values")
    med = statistics.median(xs)
    z = _Z.get(round(confidence, 2))
    if z is None:
        raise ValueError(f"confidence must be one of {sorted(_Z)}")
    half = z * math.sqrt(n) / 2
    j = max(0, int(math.floor(n / 2 - half)) - 1)     # 0-based index of x_(j)
    k = min(n - 1, int(math.ceil(n / 2 + half)))      # 0-based index of x_(k+1)
    return med, xs[j], xs[k]


def paired_overhead(base: Callable[[], Any], treated: Callable[[], Any], *, device: str = "cpu",
                    min_pairs: int = 21, max_pairs: int = 201, budget_s: float = 3.0,
                    target_us: float = 2.0, target_rel: float = 0.05, confidence: float = 0.95,
                    clock: Callable[[], float] | None = None) -> Overhead:
    """Per-call overhead of `treated` over `base`, with a confidence interval.

    Pairs are measured until the interval's half width is within `target_us`
    or `target_rel` of base's median, or `max_pairs` or `budget_s` (of the
    clock) is reached, but never fewer than `min_pairs`. The clock is the
    thread's CPU time on CPU; with CUDA, work happens off this thread, so wall
    time with a synchronize is used and the noise figure says how much to trust it.
    """
    if clock is None:
        clock = time.perf_counter if device.startswith("cuda") else time.thread_time
    inner = min(_inner_count(base, device, clock=clock), _inner_count(treated, device, clock=clock))
    fns = (base, treated)

    def once(fn: Callable[[], Any]) -> float:
        _sync(device)
        start = clock()
        for _ in range(inner):
            fn()
        _sync(device)
        return (clock() - start) * 1e6 / inner

    b_s: list[float] = []
    t_s: list[float] = []
    spent_start = clock()
    while len(b_s) < max_pairs:
        if len(b_s) % 2 == 0:          # ABBA: drift within a pair cancels over two pairs
            b, t = once(fns[0]), once(fns[1])
        else:
            t, b = once(fns[1]), once(fns[0])
        b_s.append(b)
        t_s.append(t)
        n = len(b_s)
        if n >= min_pairs and n % 10 == 1:
            _, lo, hi = median_ci([y - x for x, y in zip(b_s, t_s)], confidence)
            if (hi - lo) / 2 <= max(target_us, target_rel * statistics.median(b_s)):
                break
        if n >= min_pairs and clock() - spent_start > budget_s:
            break
    diffs = [y - x for x, y in zip(b_s, t_s)]
    ratios = [y / x for x, y in zip(b_s, t_s) if x > 0]
    med, lo, hi = median_ci(diffs, confidence)
    rmed, rlo, rhi = median_ci(ratios or [float("nan")], confidence)
    q = statistics.quantiles(b_s, n=4) if len(b_s) >= 2 else [b_s[0]] * 3
    base_med = statistics.median(b_s)
    return Overhead(base_us=base_med, treated_us=statistics.median(t_s), overhead_us=med, ci_low_us=lo,
                    ci_high_us=hi, ratio=rmed, ratio_ci_low=rlo, ratio_ci_high=rhi, n=len(diffs),
                    confidence=confidence, noise=(q[2] - q[0]) / base_med if base_med > 0 else float("nan"),
                    clock="perf_counter" if clock is time.perf_counter else
                    ("thread_time" if clock is time.thread_time else getattr(clock, "__name__", "custom")))
