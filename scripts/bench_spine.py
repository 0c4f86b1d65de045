"""Time the spine's moving parts on this machine and print the figures.

    python scripts/bench_spine.py [--backend inductor] [--unsafe-no-sandbox]

Builds the fixture zoo as a real git repo, then measures: clone + scan, the
worker start (bwrap + import torch + prewarm), per-case wall time through
the fork-per-case worker (first pass: cold Inductor cache; second pass: warm),
and the same with one case only to isolate fork overhead.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capture.workers.pool import Worker  # noqa: E402
from capture.workers.sandbox import SandboxConfig, prepare_dirs  # noqa: E402
from crawler.clone import clone  # noqa: E402
from crawler.repo_ref import parse_repo  # noqa: E402
from crawler.scan import scan_checkout  # noqa: E402
from tests.fixture_repos import make_zoo  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="inductor")
    ap.add_argument("--unsafe-no-sandbox", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gc-bench-"))
    root.chmod(0o755)
    repo = make_zoo(root)
    t = time.perf_counter()
    co = clone(parse_repo(repo.as_uri()), root / "work")
    t_clone = time.perf_counter() - t
    t = time.perf_counter()
    modules = scan_checkout(co.path).modules
    t_scan = time.perf_counter() - t
    print(f"clone (file://, shallow): {t_clone * 1000:.0f} ms; scan: {t_scan * 1000:.0f} ms for {len(modules)} modules")
    cfg = SandboxConfig(scratch_root=root / "work" / "scratch", cache_dir=root / "work" / "cache",
                        readonly=[root], unsafe=args.unsafe_no_sandbox)
    prepare_dirs(cfg)
    t = time.perf_counter()
    worker = Worker(0, cfg)
    print(f"worker start ({'unsandboxed' if cfg.unsafe else 'bwrap'} + import torch + prewarm): "
          f"{time.perf_counter() - t:.2f} s")
    for label in ("cold cache", "warm cache"):
        walls, compiles = [], []
        for m in modules:
            req = {"case_id": m["qualname"], "checkout": str(co.path), "path": m["path"], "qualname": m["qualname"],
                   "backend": args.backend, "timeout_s": 300, "scratch": str(cfg.scratch_root / m["qualname"])}
            t = time.perf_counter()
            res = worker.run(req)
            walls.append(time.perf_counter() - t)
            if res.get("compile_s"):
                compiles.append(res["compile_s"])
        print(f"{label}: {len(walls)} cases, wall per case median {statistics.median(walls):.2f} s, "
              f"total {sum(walls):.1f} s; {args.backend} compile median "
              f"{statistics.median(compiles) if compiles else float('nan'):.2f} s (n={len(compiles)})")
    t = time.perf_counter()
    req = {"case_id": "x", "checkout": str(co.path), "path": "extra/broken_import.py", "qualname": "NeverLoads",
           "timeout_s": 60, "scratch": str(cfg.scratch_root / "x")}
    n = 10
    for _ in range(n):
        worker.run(req)
    print(f"fork + import-failure round trip: {(time.perf_counter() - t) / n * 1000:.0f} ms per case")
    worker.close()


if __name__ == "__main__":
    main()
