#!/usr/bin/env python3
"""The export check's cost per case, split by step, from an export run's recorded stage times.

Why from the database and not a timer here: every case of an export run records the
seconds of each of its steps (`results.stage_s`) and its worker wall (`wall_s`), in the
real sandboxed worker on real code; a benchmark that re-ran them would measure the same
steps under another load. Run a crawl with `--export` (the same cases as an inference
run), then:

  python scripts/bench_export.py --db graphcrawl.db [--run RUN] [--passing]

It prints, per step: cases that ran it, median / p90 / mean seconds, and the step's share
of the total worker wall; "other" is what no step accounts for (fork, sandbox, transfer).
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--run", help="an export run (default: the latest run whose check is export)")
    ap.add_argument("--passing", action="store_true", help="only cases that passed every step")
    opts = ap.parse_args(argv)
    conn = sqlite3.connect(opts.db)
    run = opts.run or (conn.execute("select id from runs where \"check\" = 'export' order by started_at desc, "
                                    "rowid desc limit 1").fetchone() or [None])[0]
    if run is None:
        print(f"{opts.db}: no export run (crawl with --export first)", file=sys.stderr)
        return 1
    sql = "select stage_s, wall_s from results where run_id = ? and stage_s is not null and wall_s is not null"
    if opts.passing:
        sql += " and status = 'pass'"
    per: dict[str, list[float]] = {}
    wall = 0.0
    rows = conn.execute(sql, [run]).fetchall()
    for stage_s, w in rows:
        stages = json.loads(stage_s)
        for name, s in stages.items():
            per.setdefault(name, []).append(float(s))
        per.setdefault("other", []).append(max(0.0, float(w) - sum(map(float, stages.values()))))
        wall += float(w)
    print(f"run {run}: {len(rows)} cases{' (passing)' if opts.passing else ''}, worker wall {wall:.1f} s, "
          f"{wall / max(1, len(rows)):.2f} s per case")
    print(f"{'step':<18}{'cases':>7}{'median s':>10}{'p90 s':>9}{'mean s':>9}{'share':>8}")
    for name, xs in sorted(per.items(), key=lambda kv: -sum(kv[1])):
        print(f"{name:<18}{len(xs):>7}{statistics.median(xs):>10.3f}{quantile(xs, 0.9):>9.3f}"
              f"{statistics.mean(xs):>9.3f}{100 * sum(xs) / wall if wall else 0:>7.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
