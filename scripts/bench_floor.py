#!/usr/bin/env python3
"""The per-case floor: what a passing case costs beyond its own graph, with and without warming.

    PYTHONPATH=. python scripts/bench_floor.py --db bench.db --repos-file repos.txt [--workers 2]

Four crawls of the same repos into one database, Inductor, same machine:
`floor-fill` (fills the Inductor cache and stores the cases' specs), then
`floor-before` (`--no-warm --two-traces`: every case forked from a worker that
never compiled, and traced twice, as before issue 18), `floor-warm-two`
(`--two-traces`: warming alone) and `floor-after` (the default: warm, one
trace). For the passing cases of the last three it prints: CPU per case (median, p90), wall seconds by stage, the
compile split by torch's metrics, the share of a passing case's wall that is
not Dynamo + AOTAutograd + Inductor + the compiled runs + the hook measurement,
and the compile CPU of cache-hit graphs of 2-6 ops. Also the statuses of the
runs side by side and the cases whose figures differ (none should). Figures, not a test.
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
    # CPU outside compiler work: the case's CPU less the compile's and the compiled/hook timing stages'
    # wall (single-threaded, so wall ~ CPU there)
    inside = sum((r["compile_cpu_s"] or 0.0) + sum(json.loads(r["stage_s"] or "{}").get(k, 0.0)
                                                   for k in ("capture", "hook", "run", "timing")) for r in passing)
    cpu_sum = sum(cpu)
    return {"rows": rows, "passing": len(passing), "cpu_median": statistics.median(cpu) if cpu else float("nan"),
            "cpu_p90": pct(cpu, 0.9), "stages": stages, "phases": phases, "wall": wall,
            "floor_share": floor / wall if wall else float("nan"),
            "small_hit_compile_cpu": statistics.median(small_hits) if small_hits else float("nan"),
            "small_hit_compile_cpu_p90": pct(small_hits, 0.9), "cpu_sum": cpu_sum,
            "floor_cpu_share": max(0.0, cpu_sum - inside) / cpu_sum if cpu_sum else float("nan"),
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
    runs = {"before": ("floor-before", "--no-warm", "--two-traces"), "warm, 2 traces": ("floor-warm-two", "--two-traces"),
            "after": ("floor-after",)}
    for run, *extra in runs.values():
        crawl(args, run, *extra)
    sums = [summarize(args.db, run) for run, *_ in runs.values()]
    print(f"{'':40s}" + "".join(f"{label:>16s}" for label in runs))
    for label, key, fmt in (("passing cases", "passing", "{:16d}"), ("CPU per passing case, median s", "cpu_median",
                            "{:16.3f}"), ("CPU per passing case, p90 s", "cpu_p90", "{:16.2f}"),
                            ("CPU per passing case, sum s", "cpu_sum", "{:16.1f}"),
                            ("share of wall outside compiler work", "floor_share", "{:16.1%}"),
                            ("share of CPU outside compiler work", "floor_cpu_share", "{:16.1%}"),
                            ("cache-hit 2-6 op compile CPU, median s", "small_hit_compile_cpu", "{:16.3f}"),
                            ("cache-hit 2-6 op compile CPU, p90 s", "small_hit_compile_cpu_p90", "{:16.3f}"),
                            ("  (such cases)", "small_hits", "{:16d}")):
        print(f"{label:40s}" + "".join(fmt.format(x[key]) for x in sums))
    print("wall seconds by stage, passing cases (sum)")
    for name in sorted(set().union(*(x["stages"] for x in sums))):
        print(f"  {name:38s}" + "".join(f"{x['stages'][name]:16.1f}" for x in sums))
    print("compile by torch's metrics, passing cases (sum s)")
    for name in ("dynamo", "aot_autograd", "inductor", "cxx_build"):
        print(f"  {name:38s}" + "".join(f"{x['phases'][name]:16.1f}" for x in sums))
    keys = ("status", "graph_count", "graph_break_count", "op_count", "guard_count", "recompiles", "break_ids")
    figures = [{r["case_id"]: tuple(r[k] for k in keys) for r in x["rows"]} for x in sums]
    common = set.intersection(*(set(f) for f in figures))
    for label, other in zip(list(runs)[1:], figures[1:]):
        differ = sorted(c for c in common if figures[0][c] != other[c])
        print(f"cases in all runs: {len(common)}; before vs {label}: {len(differ)} differ in {', '.join(keys)}")
        for c in differ[:20]:
            print(f"  {c}: {figures[0][c]} -> {other[c]}")
    statuses = [Counter(f[c][0] for c in common) for f in figures]
    print("status, cases in all runs")
    for s in sorted(set().union(*statuses)):
        print(f"  {s:38s}" + "".join(f"{x[s]:16d}" for x in statuses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
