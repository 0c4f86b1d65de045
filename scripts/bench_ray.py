#!/usr/bin/env python
"""Ray's overhead: wall of the same crawl with the local executor and with Ray, same cores.

    PYTHONPATH=. python scripts/bench_ray.py [--repos 4] [--modules 3] [--cpus 2] [--reps 2]

Builds small fixture repos (tiny nn.Modules, `--backend eager`), starts a
one-node Ray cluster with the same number of CPUs as the local workers
(on 127.0.0.1, inside a private network namespace: tests/ray_cluster.py),
and times `graphcrawl crawl` end to end with each executor, alternating,
each time into a fresh database and workdir (so both pay their cold start:
Ray's includes connecting to the cluster and starting the node's actor).
The cluster's own start is not counted: a Ray user has a cluster already.
Prints the medians and the overhead; not a test.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capture.workers.sandbox import bwrap_problem  # noqa: E402
from tests.gitfixtures import make_repo  # noqa: E402
from tests.ray_cluster import NetnsRayCluster, ray_problem  # noqa: E402

MODULE = '''
import torch.nn as nn


class Net{i}(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.a = nn.Linear(width, width)
        self.b = nn.Linear(width, 4)

    def forward(self, x):
        return self.b(self.a(x).relu())
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=4)
    ap.add_argument("--modules", type=int, default=3, help="modules per repo")
    ap.add_argument("--cpus", type=int, default=2, help="local workers = the Ray node's CPUs")
    ap.add_argument("--reps", type=int, default=2)
    args = ap.parse_args()
    if ray_problem():
        raise SystemExit(ray_problem())
    root = Path(tempfile.mkdtemp(prefix="benchray", dir="/tmp"))
    os.chmod(root, 0o755)
    repos = [make_repo(root, f"r{r}", {f"m{i}.py": MODULE.format(i=i) for i in range(args.modules)})
             for r in range(args.repos)]
    sandbox = [] if bwrap_problem() is None else ["--unsafe-no-sandbox"]
    walls: dict[str, list[float]] = {"local": [], "ray": []}
    with NetnsRayCluster(nodes=1, cpus=args.cpus) as cluster:
        for rep in range(args.reps):
            for executor in ("local", "ray"):
                work = root / f"{executor}{rep}"
                cmd = [sys.executable, "-m", "graphcrawl.cli", "crawl", "--db", str(work / "g.db"),
                       "--workdir", str(work / "w"), "--backend", "eager", "--no-progress", *sandbox]
                cmd += ["--workers", str(args.cpus)] if executor == "local" else \
                    ["--executor", "ray", "--ray-address", cluster.address]
                for r in repos:
                    cmd += ["--repo", r.as_uri()]
                work.mkdir()
                start = time.monotonic()
                out = cluster.run(cmd, check=False)
                wall = time.monotonic() - start
                if out.returncode != 0:
                    raise SystemExit(f"{executor} crawl failed: {out.stderr[-2000:]}")
                walls[executor].append(wall)
                print(f"rep {rep} {executor:>5}: {wall:6.1f} s", flush=True)
    cases = args.repos * args.modules
    local, ray = statistics.median(walls["local"]), statistics.median(walls["ray"])
    print(f"{args.repos} repos x {args.modules} modules = {cases} cases, {args.cpus} cores, eager backend")
    print(f"local median {local:.1f} s, ray median {ray:.1f} s: Ray overhead {100 * (ray - local) / local:+.1f}% "
          f"({(ray - local) / cases:+.2f} s per case; target <= 10%)")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
