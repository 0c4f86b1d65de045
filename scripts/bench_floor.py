#!/usr/bin/env python3
"""The per-case floor: what a passing case costs beyond its own graph, with and without warming.

    PYTHONPATH=. python scripts/bench_floor.py --db bench.db --repos-file repos.txt [--workers 2]

Three crawls of the same repos into one database, Inductor, same machine:
`floor-fill` (fills the Inductor cache and stores the cases' specs), then
`floor-cold-worker` (`--no-warm`: every case forked from a worker that never
compiled, as before) and `floor-warm` (the default). For the passing cases of
the last two it prints: CPU per case (median, p90), wall seconds by stage, the
compile split by torch's metrics, the share of a passing case's wall that is
not Dynamo + AOTAutograd + Inductor + the compiled runs + the hook measurement,
and the compile CPU of cache-hit graphs of 2-6 ops. Also the statuses of the
two runs side by side (they must agree). Figures, not a test.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

COMPILER_STAGES = ("capture", "hook", "compile", "run", "timing")


def crawl(args: argparse.Namespace, run: str, *extra: str) -> None:
    subprocess.run([sys.executable, "-m", "graphcrawl.cli", "crawl", "--db", str(args.db), "--repos-file",
                    str(args.repos_file), "--workdir", str(args.workdir), "--workers", str(args.workers),
                    "--timeout", str(args.timeout), "--run", run, "--no-progress", *extra], check=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def summarize(db: Path, run: str) -> dict:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("select * from results where run_id = ?", [run])]
    passing = [r for r in rows if r["status"] == "pass"]
    stages: Counter = Counter()
    phases: Counter = Counter()
    wall = floor = 0.0
    for r in passing:
        s = json.loads(r["stage_s"] or "{}")
        stages.update(s)
        phases.update(json.loads(r["compile_phases"] or "{}") if r.get("compile_phases") else {})
        wall += r["wall_s"] or 0.0
        floor += max(0.0, (r["wall_s"] or 0.0) - sum(s.get(k, 0.0) for k in COMPILER_STAGES))
    small_hits = [r["compile_cpu_s"] for r in passing if r["compile_cache"] == "hit" and r["op_count"]
                  and 2 <= r["op_count"] <= 6 and r["compile_cpu_s"] is not None]
    cpu = [r["case_cpu_s"] for r in passing if r.get("case_cpu_s") is not None]
    return {"rows": rows, "passing": len(passing), "cpu_median": statistics.median(cpu) if cpu else float("nan"),
            "cpu_p90": pct(cpu, 0.9), "stages": stages, "phases": phases, "wall": wall,
            "floor_share": floor / wall if wall else float("nan"),
            "small_hit_compile_cpu": statistics.median(small_hits) if small_hits else float("nan"),
            "small_hits": len(small_hits)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--repos-file", type=Path, required=True)
    ap.add_argument("--workdir", type=Path, default=Path("bench-workdir"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--skip-fill", action="store_true", help="the cache is warm and the specs stored already")
    args = ap.parse_args()
    if not args.skip_fill:
        crawl(args, "floor-fill")
    crawl(args, "floor-cold-worker", "--no-warm")
    crawl(args, "floor-warm")
    before, after = summarize(args.db, "floor-cold-worker"), summarize(args.db, "floor-warm")
    print(f"{'':38s} {'no warm':>10s} {'warm':>10s}")
    for label, key, fmt in (("passing cases", "passing", "{:10d}"), ("CPU per passing case, median s", "cpu_median",
                            "{:10.2f}"), ("CPU per passing case, p90 s", "cpu_p90", "{:10.2f}"),
                            ("share of wall outside compiler work", "floor_share", "{:10.1%}"),
                            ("cache-hit 2-6 op compile CPU, median s", "small_hit_compile_cpu", "{:10.2f}"),
                            ("  (such cases)", "small_hits", "{:10d}")):
        print(f"{label:38s} {fmt.format(before[key])} {fmt.format(after[key])}")
    print("wall seconds by stage, passing cases (sum)")
    for name in sorted(set(before["stages"]) | set(after["stages"])):
        print(f"  {name:36s} {before['stages'][name]:10.1f} {after['stages'][name]:10.1f}")
    print("compile by torch's metrics, passing cases (sum s)")
    for name in ("dynamo", "aot_autograd", "inductor", "cxx_build"):
        print(f"  {name:36s} {before['phases'][name]:10.1f} {after['phases'][name]:10.1f}")
    a = {r["case_id"]: (r["status"], r["graph_count"], r["guard_count"]) for r in before["rows"]}
    b = {r["case_id"]: (r["status"], r["graph_count"], r["guard_count"]) for r in after["rows"]}
    common = set(a) & set(b)
    differ = sorted(c for c in common if a[c] != b[c])
    print(f"cases in both: {len(common)}; status/graphs/guards differ: {len(differ)}")
    for c in differ[:20]:
        print(f"  {c}: {a[c]} -> {b[c]}")
    statuses = Counter(v[0] for v in a.values()), Counter(v[0] for v in b.values())
    for s in sorted(set(statuses[0]) | set(statuses[1])):
        print(f"  {s:36s} {statuses[0][s]:10d} {statuses[1][s]:10d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
