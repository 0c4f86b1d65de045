#!/usr/bin/env python3
"""How stable is the frame-hook overhead figure on this (busy) machine?

Measures the hook cost of one small module (torch.compile(backend="eager") vs
eager) ROUNDS times with each method, and prints the spread of the estimates:
  wall:   backend.timing.interleaved_ms (median wall time of interleaved repeats;
          the method before issue 12)
  paired: backend.timing.paired_overhead (thread CPU time, paired ABBA repeats, 95% CI)
Optionally loads the machine with BUSY spinning processes meanwhile.

  python scripts/bench_hook_overhead.py [--rounds 10] [--busy 2]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time


def spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--busy", type=int, default=0, help="spinning processes to add load")
    opts = ap.parse_args()
    import torch
    from backend.timing import interleaved_ms, paired_overhead
    torch.set_num_threads(1)
    mod = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    x = torch.randn(4, 16)
    hooked = torch.compile(mod, backend="eager")
    with torch.no_grad():
        hooked(x)
        procs = [mp.Process(target=spin, args=(time.time() + 3600,)) for _ in range(opts.busy)]
        for p in procs:
            p.start()
        try:
            wall, paired, halfs, ratios = [], [], [], []
            for _ in range(opts.rounds):
                e, h = interleaved_ms([lambda: mod(x), lambda: hooked(x)])
                wall.append((h - e) * 1000)
                o = paired_overhead(lambda: mod(x), lambda: hooked(x))
                paired.append(o.overhead_us)
                halfs.append(o.ci_half_width_us)
                ratios.append(o.ratio)
        finally:
            for p in procs:
                p.kill()
    print(f"load average {os.getloadavg()[0]:.2f} on {len(os.sched_getaffinity(0))} cores, "
          f"{opts.busy} spinning processes added, {opts.rounds} rounds")
    for name, vals in (("wall interleaved median (µs)", wall), ("paired thread-CPU median (µs)", paired)):
        print(f"{name:32s} min {min(vals):8.1f}  median {statistics.median(vals):8.1f}  max {max(vals):8.1f}  "
              f"stdev {statistics.stdev(vals):7.1f}")
    print(f"{'paired 95% CI half width (µs)':32s} median {statistics.median(halfs):.1f}")
    print(f"{'paired ratio to eager (x)':32s} min {min(ratios):.2f}  median {statistics.median(ratios):.2f}  "
          f"max {max(ratios):.2f}")


if __name__ == "__main__":
    main()
