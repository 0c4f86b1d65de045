#!/usr/bin/env python
"""Project the wall time of a 7,000-repo crawl on N nodes x C cores from a real crawl's case costs.

    python scripts/bench_projection.py --db /work/realrepos/real.db [--run RUN] \
        [--repos 7000] [--nodes 1,2,4,8,16] [--cores 2,16,64]

The per-case costs are `results.wall_s` of the given database, grouped by
repo: a repo is a list of case costs. A 7,000-repo crawl is drawn from those
repos (with replacement, seeded), and scheduled the way the Ray executor
does it: a repo goes whole to the node that frees up first (the repo is the
unit handed to a node), its cases spread over that node's C cores. So the
stragglers are in: one large repo lands on one node and its cases share only
that node's cores, and the longest case bounds the wall on its own. The
per-case dispatch overhead is `--overhead-s`. "big first" is the same crawl
with the big repo handed out first instead of last.

Prints figures; it is not a test.
"""
from __future__ import annotations

import argparse
import heapq
import random
import sqlite3
import statistics
from pathlib import Path

DEFAULT_DB = Path("/work/realrepos/real.db")


def load_repos(db: Path, run: str | None) -> tuple[str, list[list[float]]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    if run is None:
        row = conn.execute("select run_id, count(*) n from results where wall_s is not null "
                           "group by run_id order by n desc limit 1").fetchone()
        if row is None:
            raise SystemExit(f"{db}: no results with wall_s")
        run = row[0]
    by_repo: dict[str, list[float]] = {}
    for repo, wall in conn.execute("select repo_id, wall_s from results where run_id = ? and wall_s is not null",
                                   [run]):
        by_repo.setdefault(repo, []).append(float(wall))
    return run, list(by_repo.values())


def simulate(repos: list[list[float]], nodes: int, cores: int, overhead_s: float) -> float:
    """Wall seconds: each repo to the node whose first core frees first; its cases over that node's cores."""
    node_heap = [(0.0, n) for n in range(nodes)]  # (earliest free core, node)
    cores_of = [[0.0] * cores for _ in range(nodes)]
    for cases in repos:
        _, n = heapq.heappop(node_heap)
        heap = cores_of[n]
        for cost in sorted(cases, reverse=True):
            start = heapq.heappop(heap)
            heapq.heappush(heap, start + cost + overhead_s)
        heapq.heappush(node_heap, (heap[0], n))
    return max(max(c) for c in cores_of)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"a crawled database (default {DEFAULT_DB})")
    ap.add_argument("--run", default=None, help="run id (default: the run with the most results)")
    ap.add_argument("--repos", type=int, default=7000)
    ap.add_argument("--cases", type=int, default=100_000,
                    help="total cases of the projected crawl (default 100,000: ~7,000 repos hold that many "
                         "modules); each drawn repo's case count is scaled to reach it, costs redrawn from "
                         "that repo's own cases; 0 keeps the sample's counts")
    ap.add_argument("--big-repo", type=int, default=2000,
                    help="one straggler repo with this many cases (a transformers-sized project), handed "
                         "out last, the worst moment (default 2000; 0 for none)")
    ap.add_argument("--nodes", default="1,2,4,8,16,32")
    ap.add_argument("--cores", default="2,16,64")
    ap.add_argument("--overhead-s", type=float, default=0.02, help="dispatch cost per case (default 0.02 s)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not args.db.is_file():
        raise SystemExit(f"{args.db}: no such database (give --db)")
    run, sample = load_repos(args.db, args.run)
    cases = [c for r in sample for c in r]
    rng = random.Random(args.seed)
    crawl = [rng.choice(sample) for _ in range(args.repos)]
    if args.cases:
        drawn = sum(len(r) for r in crawl)
        factor = max(0.0, (args.cases - args.big_repo) / drawn)
        crawl = [[rng.choice(r) for _ in range(max(1, round(len(r) * factor)))] for r in crawl]
    if args.big_repo:
        crawl[-1] = [rng.choice(cases) for _ in range(args.big_repo)]
    flat = [c for r in crawl for c in r]
    total = sum(flat)
    biggest = max(crawl, key=sum)
    q = statistics.quantiles(cases, n=10) if len(cases) > 1 else [cases[0]] * 9
    print(f"db {args.db}, run {run}: {len(sample)} repos, {len(cases)} cases with wall_s; per case median "
          f"{statistics.median(cases):.2f} s, p90 {q[8]:.2f} s, max {max(cases):.1f} s; "
          f"{statistics.mean(len(r) for r in sample):.1f} cases/repo")
    print(f"projected crawl: {args.repos} repos drawn from them, {len(flat)} cases, "
          f"{total / 3600:.1f} CPU-hours; largest repo {len(biggest)} cases, {sum(biggest) / 60:.1f} CPU-min")
    print(f"{'nodes':>5} {'cores':>5} {'wall':>10} {'ideal':>10} {'efficiency':>10} {'big first':>10}  bound")
    big_first = [crawl[-1], *crawl[:-1]]
    for cores in (int(c) for c in args.cores.split(",")):
        for nodes in (int(n) for n in args.nodes.split(",")):
            wall = simulate(crawl, nodes, cores, args.overhead_s)
            first = simulate(big_first, nodes, cores, args.overhead_s)
            ideal = total / (nodes * cores)
            bound = "total work" if ideal >= 0.95 * wall else "straggler: the big repo on one node's cores"
            print(f"{nodes:>5} {cores:>5} {_h(wall):>10} {_h(ideal):>10} {100 * ideal / wall:>9.0f}% "
                  f"{_h(first):>10}  {bound}")


def _h(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


if __name__ == "__main__":
    main()
