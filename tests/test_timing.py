"""backend.timing.paired_overhead and median_ci: the statistics of the hook-overhead figure."""
from __future__ import annotations

import itertools
import random

import pytest

from backend.timing import median_ci, paired_overhead


def test_median_ci_uses_the_binomial_order_statistics():
    med, lo, hi = median_ci(list(range(1, 101)))
    assert med == 50.5
    assert (lo, hi) == (40, 61)          # ranks 40 and 61 of 100: the textbook 95% interval
    assert median_ci([3.0])[0] == 3.0
    with pytest.raises(ValueError):
        median_ci([])


def test_median_ci_covers_the_true_median_about_95_percent_of_the_time():
    rng = random.Random(0)
    hits = 0
    trials = 400
    for _ in range(trials):   # skewed, long-tailed like timings; true median of expovariate(1) is ln 2
        xs = [rng.expovariate(1.0) for _ in range(41)]
        _, lo, hi = median_ci(xs)
        hits += lo <= 0.6931 <= hi
    assert 0.92 <= hits / trials <= 0.99


class FakeClock:
    """A clock that advances by the cost each fn declares: the statistics, not the machine."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_paired_overhead_on_a_known_cost_with_noise():
    clock = FakeClock()
    rng = random.Random(1)

    def cost(us):
        def fn():
            clock.now += (us + rng.expovariate(1 / 3.0)) * 1e-6   # long-tailed noise, both sides alike
        return fn
    o = paired_overhead(cost(100.0), cost(130.0), clock=clock, budget_s=10.0, target_us=0.5, max_pairs=401)
    assert o.clock == "custom"
    assert o.ci_low_us <= 30.0 <= o.ci_high_us
    assert o.ratio_ci_low <= 1.30 <= o.ratio_ci_high + 0.01
    assert o.n >= 21 and o.confidence == 0.95
    assert o.noise > 0


def test_paired_overhead_stops_at_the_target_width():
    clock = FakeClock()

    def fixed(us):
        def fn():
            clock.now += us * 1e-6
        return fn
    o = paired_overhead(fixed(10.0), fixed(15.0), clock=clock)
    assert o.n == 21                                  # no noise: the first check is within target
    assert o.overhead_us == pytest.approx(5.0) and o.ratio == pytest.approx(1.5)
    assert o.ci_half_width_us == pytest.approx(0.0, abs=1e-6)


def test_paired_overhead_with_the_thread_clock_sees_real_extra_work():
    def work(n):
        def fn():
            sum(itertools.repeat(1, n))
        return fn
    o = paired_overhead(work(20_000), work(60_000), budget_s=1.0)   # three times the work, on this thread
    assert o.clock == "thread_time"
    assert o.ci_low_us > 0 and o.ratio_ci_low > 1.5
