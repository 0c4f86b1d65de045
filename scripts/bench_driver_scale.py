#!/usr/bin/env python
"""The driver at scale: a crawl of 1,000+ small repos, driver cost and memory flat from first to last.

    PYTHONPATH=. python scripts/bench_driver_scale.py [--repos 1000] [--pass-every 10] [--workers 2]

Discovery goes to the local GitHub stand-in (tests/github_server.py, on
127.0.0.1) and clones to file:// bare repositories, so the whole path of
`crawl --limit N` runs: search pages, clone at a sha, scan, sandboxed cases,
results. Each repo holds one module: every `--pass-every`-th one a small
Linear that passes (eager backend), the others fail at import (the cheapest
case a worker can run), so the run is about the driver, not the cases.

Prints, for the first and the last 100 repos: the driver process's own CPU
seconds per repo (its threads included; git and the sandboxed workers are
other processes) and its RSS; then the wall of `report` and `triage` over
the resulting database (target < 2 s each). Not a test.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capture.workers.sandbox import bwrap_problem  # noqa: E402
from crawler.discover import discover  # noqa: E402
from crawler.config import CrawlConfig  # noqa: E402
from crawler.driver import Crawl  # noqa: E402
from db.store import Store  # noqa: E402
from tests.gitfixtures import make_bare, make_repo  # noqa: E402
from tests.github_server import SearchServer, make_population  # noqa: E402

PASSES = '''
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 4)

    def forward(self, x):
        return self.lin(x)
'''
FAILS = '''
import torch.nn as nn

raise RuntimeError("needs a dataset at import time")


class Net(nn.Module):
    def forward(self, x):
        return x
'''


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=1000)
    ap.add_argument("--pass-every", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="keep the database here")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="benchdrv", dir="/tmp"))
    os.chmod(root, 0o755)
    t0 = time.monotonic()
    population = make_population(seed=5, n_bulk=args.repos + 50, n_tie=0, n_low={}, n_below=0, fork_rate=0.0,
                                 archived_rate=0.0, disabled_rate=0.0, huge_rate=0.0)
    templates = {}
    for kind, text in (("pass", PASSES), ("fail", FAILS)):
        src = make_repo(root / "src", kind, {"net.py": text})
        templates[kind] = make_bare(src, root / "tpl" / f"{kind}.git")
    clone_root = root / "git"
    for i, r in enumerate(population):  # every repo the search may return (ties are ordered by the server)
        owner, name = r["full_name"].split("/")
        kind = "pass" if i % args.pass_every == 0 else "fail"
        shutil.copytree(templates[kind], clone_root / owner / f"{name}.git")
    print(f"{args.repos} bare repos made in {time.monotonic() - t0:.0f} s", flush=True)

    marks: list[tuple[float, float, float]] = []  # per repo event: (driver cpu s, wall s, rss MB)
    results = 0

    def on_event(kind: str, **info: object) -> None:
        nonlocal results
        if kind == "repo":
            marks.append((time.process_time(), time.monotonic(), rss_mb()))
        elif kind == "result":
            results += 1

    db = root / "scale.db"
    cfg = CrawlConfig(db_path=db, workdir=root / "work", clone_base=clone_root.as_uri(), backend="eager",
                      workers=args.workers, delete_checkouts=True, timeout_s=120,
                      unsafe_no_sandbox=bwrap_problem() is not None)
    start = time.monotonic()
    with Store(db) as store, SearchServer(population, limit_anonymous=1000) as server:
        store.lock_for_writing()
        crawl = Crawl(cfg, store, on_event=on_event)
        found = discover(store, api_base=server.url, query=None, min_stars=10, limit=args.repos,
                         max_size_kb=500_000, token=None, on_event=on_event)
        for r in found:
            store.upsert_repo({"id": r["id"], "url": f"{clone_root.as_uri()}/{r['id']}.git"})
        summary = crawl.run([r["id"] for r in found])
    wall = time.monotonic() - start
    print(f"crawl: {len(found)} repos {summary.repos}, {sum(summary.counts.values())} cases {summary.counts} "
          f"in {wall:.0f} s",
          flush=True)
    assert len(marks) == len(found), (len(marks), len(found))

    def window(a: int, b: int) -> tuple[float, float]:
        cpu = (marks[b - 1][0] - marks[a][0]) / (b - 1 - a)
        return cpu, statistics.mean(m[2] for m in marks[a:b])

    n = len(marks)
    first, last = window(0, 100), window(n - 100, n)
    print(f"driver CPU per repo: first 100 {1000 * first[0]:.1f} ms, last 100 {1000 * last[0]:.1f} ms "
          f"(ratio {last[0] / first[0]:.2f})")
    print(f"driver RSS: first 100 {first[1]:.0f} MB, last 100 {last[1]:.0f} MB (end {marks[-1][2]:.0f} MB)")
    for cmd in (["report"], ["triage"], ["report", "--by", "project"]):
        t = time.monotonic()
        out = subprocess.run([sys.executable, "-m", "graphcrawl.cli", *cmd, "--db", str(db)],
                             capture_output=True, text=True)
        print(f"graphcrawl {' '.join(cmd)}: {time.monotonic() - t:.2f} s (rc {out.returncode}; target < 2 s)")
    if args.keep:
        shutil.copy(db, args.keep)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
