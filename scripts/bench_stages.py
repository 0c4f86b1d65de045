"""Where a case's time goes: per-stage shares of the worker wall, printed.

    python scripts/bench_stages.py [--backend inductor] [--check inference|training|dynamic]
                                   [--db FILE --run NAME]   # read an existing crawl instead

Crawls the fixture repos (the zoo and the gradzoo, real git repos, real
sandboxed workers, one worker) twice into a temporary database: a first run
fills Inductor's cache and stores the cases, the second (warm, replaying the
stored specs, as every later run of a real crawl does) is the one measured.
It prints each stage's share of the passing cases' wall, and the share of
everything that is not the compiler's own work (Dynamo's trace: capture;
Dynamo + AOTAutograd + the backend: compile, backward; the compiled runs:
run, dynamic). Target (issue 9): that remainder <= 10%.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COMPILER_OWN = {"capture", "compile", "run", "backward", "dynamic", "dynamic_true"}


def shares(db: Path, run: str) -> None:
    conn = sqlite3.connect(db)
    rows = conn.execute("select status, stage_s, wall_s from results where run_id = ?", [run]).fetchall()
    for label, keep in (("all cases", lambda s: True), ("passing cases", lambda s: s == "pass")):
        secs: Counter[str] = Counter()
        wall = 0.0
        n = 0
        for status, stage_s, w in rows:
            if not keep(status) or w is None:
                continue
            stages = json.loads(stage_s or "{}")
            for k, v in stages.items():
                secs[k] += v
            secs["other (fork, sandbox, transfer)"] += max(0.0, w - sum(stages.values()))
            wall += w
            n += 1
        print(f"\n{run}: {label}: {n} cases, {wall:.2f} s worker wall")
        for k, v in secs.most_common():
            mark = "  compiler" if k in COMPILER_OWN else ""
            print(f"  {k:34s} {v:8.2f} s  {100 * v / wall if wall else 0:5.1f}%{mark}")
        rest = sum(v for k, v in secs.items() if k not in COMPILER_OWN)
        print(f"  {'not the compiler (target <= 10%)':34s} {rest:8.2f} s  {100 * rest / wall if wall else 0:5.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="inductor")
    ap.add_argument("--check", choices=["inference", "training", "dynamic"], default="inference")
    ap.add_argument("--db", type=Path)
    ap.add_argument("--run")
    ap.add_argument("--unsafe-no-sandbox", action="store_true")
    args = ap.parse_args()
    if args.db:
        run = args.run or sqlite3.connect(args.db).execute(
            "select id from runs order by started_at desc limit 1").fetchone()[0]
        shares(args.db, run)
        return
    from graphcrawl.cli import main as cli
    from tests.fixture_repos import make_gradzoo, make_zoo
    root = Path(tempfile.mkdtemp(prefix="gc-stages-"))
    root.chmod(0o755)
    repos = [make_zoo(root), make_gradzoo(root)]
    db = root / "stages.db"
    flag = {"inference": [], "training": ["--training"], "dynamic": ["--dynamic-shapes"]}[args.check]
    common = ["crawl", "--db", str(db), "--workdir", str(root / "work"), "--backend", args.backend,
              "--workers", "1", "--no-progress", *flag, *(["--unsafe-no-sandbox"] if args.unsafe_no_sandbox else [])]
    for r in repos:
        common += ["--repo", r.as_uri()]
    cli([*common, "--run", "cold"])
    cli([*common, "--run", "warm"])
    shares(db, "warm")


if __name__ == "__main__":
    main()
