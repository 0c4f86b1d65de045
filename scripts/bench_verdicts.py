#!/usr/bin/env python3
"""Same crawl, idle and saturated: do the verdicts move with the machine's load?

    PYTHONPATH=. python scripts/bench_verdicts.py --db bench.db --repos-file repos.txt [--busy 2]
        [--timeout 300] [--workers 2] [--backend inductor] [--max-cases N]

Runs `graphcrawl crawl` twice over the same repos into one database: run
`verdicts-idle`, then run `verdicts-busy` while `--busy` processes spin on
every core for the whole crawl. The second run replays the cases the first
stored (same specs), so any status that differs is the load's doing. Prints
cases compared, statuses that differ (the target is 0), each run's wall time
and median case CPU, and the confirmation figures (reruns, flaky) of each run.
A figure-printing benchmark, not a test: load on a shared machine varies.
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

SPIN = "import time\nend = time.time() + 7200\nwhile time.time() < end: pass\n"


def crawl(args: argparse.Namespace, run: str) -> float:
    cmd = [sys.executable, "-m", "graphcrawl.cli", "crawl", "--db", str(args.db), "--repos-file",
           str(args.repos_file), "--workdir", str(args.workdir), "--workers", str(args.workers), "--backend",
           args.backend, "--timeout", str(args.timeout), "--run", run, "--no-progress"]
    if args.max_cases:
        cmd += ["--max-cases", str(args.max_cases)]
    start = time.monotonic()
    subprocess.run(cmd, check=True)
    return time.monotonic() - start


def rows(db: Path, run: str) -> dict[str, dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return {r["case_id"]: dict(r) for r in conn.execute("select * from results where run_id = ?", [run])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--repos-file", type=Path, required=True)
    ap.add_argument("--workdir", type=Path, default=Path("bench-workdir"))
    ap.add_argument("--busy", type=int, default=os.cpu_count() or 2, help="spinning processes in the busy run")
    ap.add_argument("--timeout", type=float, default=300.0, help="CPU seconds per case (crawl --timeout)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backend", default="inductor")
    ap.add_argument("--max-cases", type=int)
    args = ap.parse_args()
    load_idle = os.getloadavg()[0]
    wall_idle = crawl(args, "verdicts-idle")
    busy = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.busy)]
    try:
        time.sleep(2)
        load_busy = os.getloadavg()[0]
        wall_busy = crawl(args, "verdicts-busy")
    finally:
        for p in busy:
            p.kill()
            p.wait()
    idle, loaded = rows(args.db, "verdicts-idle"), rows(args.db, "verdicts-busy")
    common = sorted(set(idle) & set(loaded))
    differ = [(c, idle[c]["status"], idle[c]["stage"], loaded[c]["status"], loaded[c]["stage"]) for c in common
              if (idle[c]["status"], idle[c]["stage"]) != (loaded[c]["status"], loaded[c]["stage"])]
    print(f"cases compared: {len(common)} (idle run {len(idle)}, busy run {len(loaded)})")
    print(f"statuses that differ: {len(differ)}")
    for d in differ:
        print(f"  {d[0]}: {d[1]} @ {d[2]} -> {d[3]} @ {d[4]}")
    for name, data, wall, load in (("idle", idle, wall_idle, load_idle), ("busy", loaded, wall_busy, load_busy)):
        cpu = [r["case_cpu_s"] for r in data.values() if r.get("case_cpu_s") is not None]
        reruns = [r for r in data.values() if r.get("rerun")]
        flaky = [r for r in reruns if r.get("flaky")]
        print(f"{name}: wall {wall:.0f} s, load avg at start {load:.1f}, median case CPU "
              f"{statistics.median(cpu) if cpu else float('nan'):.2f} s, reruns {len(reruns)} "
              f"({sum(r.get('rerun_s') or 0 for r in reruns):.0f} s), confirmed {len(reruns) - len(flaky)}, "
              f"flaky {len(flaky)}")
        for r in flaky:
            print(f"  flaky: {r['case_id']}: {r['status']} @ {r['stage']} then "
                  f"{json.loads(r['rerun']).get('status')}")
    counts: dict[str, list[int]] = {}
    for data, i in ((idle, 0), (loaded, 1)):
        for r in data.values():
            counts.setdefault(r["status"], [0, 0])[i] += 1
    print("status                     idle  busy")
    for status, (a, b) in sorted(counts.items()):
        print(f"{status:25s} {a:5d} {b:5d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
