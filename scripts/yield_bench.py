"""Yield benchmark: how many scanned nn.Modules of real repos run in eager.

Why: the deducer is only as good as the share of real modules it gets to run,
with inputs that look like real use. This runs every module of every checkout
under a directory through the real sandboxed worker pool, eager only (no
compile: `stop_after: "eager"`), and prints the funnel per repo and overall:
modules scanned, import failed (top missing packages), constructor not built,
inputs not found, eager failed, runnable; plus the ratio to paritybench's
runnable count for the same repos when given one. `--json OUT` saves one row
per module so before/after runs can be diffed (`--diff OLD.json`).

    python scripts/yield_bench.py /tmp/yield_checkouts --json after.json
    python scripts/yield_bench.py /tmp/yield_checkouts --diff before.json --json after.json
    python scripts/yield_bench.py --report before.json --paritybench pb.json   # re-print, no run
    python scripts/yield_bench.py --count-paritybench PB_CHECKOUT/generated --repos-of CHECKOUTS > pb.json

Paritybench's count for a repo is the number of TESTCASES in its generated
test file (generated/test_<owner>_<name>.py, every non-identifier character
made "_"): the modules it made run. The figures below the table are issue 10's
targets, over the repos where paritybench made at least one module run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capture.workers.pool import Reply, WorkerPool  # noqa: E402
from capture.workers.sandbox import INSTALL_HINT, SandboxConfig, bwrap_problem  # noqa: E402

FUNNEL = ["import_failed", "init_failed", "inputs_not_found", "eager_failed", "timeout", "crash", "oom", "runnable"]
COLUMNS = [("scanned", "scanned"), ("import_failed", "import"), ("init_failed", "init"),
           ("inputs_not_found", "inputs"), ("eager_failed", "eager"), ("other", "t/o,crash"),
           ("runnable", "runnable")]
MISSING = re.compile(r"No module named '([\w.]+)'")


def scan_repo(path: Path) -> tuple[list[dict[str, Any]], int]:
    """(modules, scan errors) from crawler.scan, the crawl's own static scanner."""
    try:
        from crawler.scan import scan_checkout
    except ImportError:  # crawler/scan.py not there yet: a minimal stand-in with the same output
        return _fallback_scan(path), 0
    result = scan_checkout(path)
    return list(result.modules), len(result.errors)


def _fallback_scan(root: Path) -> list[dict[str, Any]]:
    """Top-level classes deriving (transitively, by name) from *Module; no code is run."""
    import ast
    classes: list[tuple[str, str, int, list[str]]] = []
    for file in sorted(root.rglob("*.py")):
        if any(part.startswith(".") for part in file.relative_to(root).parts):
            continue
        try:
            tree = ast.parse(file.read_text(errors="replace"))
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b).split(".")[-1] for b in node.bases]
                classes.append((str(file.relative_to(root)), node.name, node.lineno, bases))
    modules = {"Module"}
    changed = True
    while changed:
        changed = False
        for _, name, _, bases in classes:
            if name not in modules and any(b in modules for b in bases):
                modules.add(name)
                changed = True
    return [{"path": p, "qualname": n, "line": ln} for p, n, ln, bases in classes
            if any(b in modules for b in bases)]


def requests_for(repo: str, checkout: Path, modules: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """One eager-only request per module, like crawler/driver.py builds them."""
    out = []
    for m in modules:
        out.append({
            "case_id": f"{repo}:{m['path']}:{m['qualname']}", "repo_id": repo, "module_id": m["qualname"],
            "checkout": str(checkout), "path": m["path"], "qualname": m["qualname"],
            "spec": None, "stubs": None, "device": "cpu", "seed": 0, "mode": args.mode,
            "deduce_budget_s": args.budget, "timeout_s": args.timeout, "mem_mb": args.mem_mb,
            "cpu_s": None, "max_procs": 256, "max_file_mb": 64, "max_output_mb": 10,
            "stop_after": "eager",
        })
    return out


def row_for(req: dict[str, Any], res: dict[str, Any]) -> dict[str, Any]:
    """The per-module record saved with --json: status, how it was found, or the last error."""
    row: dict[str, Any] = {
        "repo": req["repo_id"], "path": req["path"], "qualname": req["qualname"],
        "status": res.get("status", "crash"), "stage": res.get("stage"),
        "found_by": res.get("found_by") or [], "tries": res.get("tries"),
        "stubs": res.get("stubs") or [], "stubs_used": res.get("stubs_used"), "wall_s": res.get("wall_s"), "reason": res.get("reason"),
    }
    if row["status"] != "runnable":
        row["error_type"] = res.get("error_type")
        row["error_msg"] = (res.get("error_msg") or "")[:400]
    if res.get("spec"):
        row["spec"] = res["spec"]
    if row["status"] == "import_failed":
        m = MISSING.search(res.get("error_msg") or "")
        row["missing"] = m.group(1).split(".")[0] if m else None
    return row


def summarize_inputs(spec: dict[str, Any]) -> str:
    from capture.deduce.specs import summarize
    call = spec.get("inputs", {})
    parts = [summarize(s) for s in call.get("args", [])]
    parts += [f"{k}={summarize(s)}" for k, s in call.get("kwargs", {}).items()]
    return ", ".join(parts)


def _bucket(status: str) -> str:
    return status if status in ("import_failed", "init_failed", "inputs_not_found", "eager_failed", "runnable") else "other"


def report(rows: list[dict[str, Any]], scanned: dict[str, int], pb: dict[str, int] | None,
           out=sys.stdout) -> dict[str, Any]:
    """Print the funnel table per repo and overall; return the overall figures."""
    per: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        per[r["repo"]][_bucket(r["status"])] += 1
    names = sorted(scanned)
    width = max([len(n) for n in names] + [10])
    head = f"{'repo':<{width}} " + " ".join(f"{c:>9}" for _, c in COLUMNS)
    if pb is not None:
        head += f" {'pb':>5} {'ratio':>6}"
    print(head, file=out)
    total: Counter = Counter()
    pb_total = 0
    pb_runnable = 0
    for name in names:
        c = per[name]
        c["scanned"] = scanned[name]
        total.update(c)
        line = f"{name:<{width}} " + " ".join(f"{c[k]:>9}" for k, _ in COLUMNS)
        if pb is not None:
            count = pb.get(name, pb.get(name.replace("+", "/")))
            if count is not None:
                pb_total += count
                pb_runnable += c["runnable"]
                line += f" {count:>5} {c['runnable'] / count if count else float('inf'):>6.2f}"
        print(line, file=out)
    print(f"{'TOTAL':<{width}} " + " ".join(f"{total[k]:>9}" for k, _ in COLUMNS)
          + (f" {pb_total:>5} {pb_runnable / pb_total if pb_total else 0:>6.2f}" if pb is not None else ""), file=out)
    with_modules = [n for n in names if scanned[n] > 0]
    yielded = [n for n in with_modules if per[n]["runnable"] > 0]
    runnable_share = total["runnable"] / total["scanned"] if total["scanned"] else 0.0
    print(f"\nrepos with modules: {len(with_modules)}; yielding >=1 runnable: {len(yielded)} "
          f"({len(yielded) / max(1, len(with_modules)):.0%}); runnable/scanned: {runnable_share:.1%}", file=out)
    past_import = total["scanned"] - total["import_failed"]
    print(f"runnable/imported: {total['runnable'] / max(1, past_import):.1%} of {past_import}", file=out)
    missing = Counter(r.get("missing") or r.get("error_type") for r in rows if r["status"] == "import_failed")
    if missing:
        print("import failed, top causes: " + ", ".join(f"{k} {v}" for k, v in missing.most_common(8)), file=out)
    rules: Counter = Counter()
    for r in rows:
        if r["status"] == "runnable":
            for rule in r["found_by"]:
                for part in rule.split("+"):
                    rules[part] += 1
    if rules:
        print("rules on runnable cases: " + ", ".join(f"{k} {v}" for k, v in rules.most_common(20)), file=out)
    errs = Counter(f"{r['status']}: {r.get('error_type')}" for r in rows
                   if r["status"] not in ("runnable", "import_failed"))
    if errs:
        print("failures by type: " + ", ".join(f"{k} {v}" for k, v in errs.most_common(12)), file=out)
    reasons = Counter(f"{r['status']}: {r['reason']}" for r in rows if r.get("reason"))
    if reasons:
        print("reason classes: " + ", ".join(f"{k} {v}" for k, v in reasons.most_common()), file=out)
    runnable_rows = [r for r in rows if r["status"] == "runnable"]
    no_stub = sum(1 for r in runnable_rows if not r["stubs"])
    stubs = Counter(s for r in runnable_rows for s in r["stubs"])
    print(f"runnable cases needing no stub: {no_stub} of {len(runnable_rows)} "
          f"({no_stub / max(1, len(runnable_rows)):.1%}); stubs the others depend on: "
          + ", ".join(f"{k} {v}" for k, v in stubs.most_common(12)), file=out)
    # Touched once imported (results.stubs_used, capture/loading/stub_use.py): a stub only the
    # file's import asked for is no dependence. Rows from an older graphcrawl have no such field.
    known = [r for r in runnable_rows if r.get("stubs_used") is not None]
    no_used = sum(1 for r in known if not r["stubs_used"])
    if known:
        used = Counter(s for r in known for s in r["stubs_used"])
        print(f"runnable cases that used no stub once imported: {no_used} of {len(known)} "
              f"({no_used / len(known):.1%}); stubs they used: "
              + ", ".join(f"{k} {v}" for k, v in used.most_common(12)), file=out)
    figures = targets(per, pb) if pb is not None else {}
    if figures:
        print(f"targets over the {figures['repos']} repos where paritybench made >=1 module run: "
              f"below paritybench on {figures['below']} (target <= 5 in 70), at zero on {figures['zero']} "
              f"(target <= 1), ratio {figures['ratio']:.2f}x, {figures['ratio_wo_largest']:.2f}x without the "
              f"largest ({figures['largest']}) (target >= 1.5x), no stub {no_stub / max(1, len(runnable_rows)):.1%} "
              f"(target >= 50%)" + (f"; {no_used / len(known):.1%} used none once imported" if known else ""), file=out)
    return {"scanned": total["scanned"], "runnable": total["runnable"], "repos_with_modules": len(with_modules),
            "repos_yielding": len(yielded), "no_stub": no_stub,
            "no_stub_used": no_used if known else None, **figures, **{k: total[k] for k, _ in COLUMNS}}


def targets(per: dict[str, Counter], pb: dict[str, int]) -> dict[str, Any]:
    """Issue 10's figures over the repos paritybench made >=1 module run on."""
    names = [n for n in per if (pb.get(n, pb.get(n.replace("+", "/"))) or 0) >= 1]
    if not names:
        return {}
    count = {n: pb.get(n, pb.get(n.replace("+", "/"))) for n in names}
    ours = {n: per[n]["runnable"] for n in names}
    largest = max(names, key=lambda n: ours[n])
    rest = [n for n in names if n != largest]
    return {"repos": len(names), "below": sum(1 for n in names if ours[n] < count[n]),
            "zero": sum(1 for n in names if ours[n] == 0),
            "ratio": sum(ours.values()) / sum(count.values()),
            "ratio_wo_largest": sum(ours[n] for n in rest) / max(1, sum(count[n] for n in rest)),
            "largest": largest}


def count_paritybench(generated: Path, names: list[str]) -> dict[str, int]:
    """{checkout name: paritybench's TESTCASES count}, for the names that have a generated file."""
    out = {}
    for name in names:
        file = generated / ("test_" + re.sub(r"[^a-zA-Z0-9_]", "_", name.replace("+", "_", 1)) + ".py")
        if not file.is_file():
            continue
        text = file.read_text(errors="replace")
        start = text.find("TESTCASES = [")
        body = text[start:text.find("\n]\n", start)] if start >= 0 else ""
        out[name] = len(re.findall(r"^    \(\w", body, re.M))
    return out


def diff(old_rows: list[dict[str, Any]], new_rows: list[dict[str, Any]], out=sys.stdout) -> None:
    """Modules whose status changed between two --json files."""
    key = lambda r: (r["repo"], r["path"], r["qualname"])  # noqa: E731
    old = {key(r): r["status"] for r in old_rows}
    moves: Counter = Counter()
    for r in new_rows:
        before = old.get(key(r))
        if before is not None and before != r["status"]:
            moves[f"{before} -> {r['status']}"] += 1
    print("status changes vs. old: " + (", ".join(f"{k}: {v}" for k, v in moves.most_common()) or "none"), file=out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkouts", type=Path, nargs="?", help="directory whose subdirectories are repo checkouts")
    p.add_argument("--report", type=Path, help="print the tables of a saved --json file instead of running")
    p.add_argument("--repos", help="comma-separated subdirectory names (default: all)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=90.0, help="per-case wall-clock limit, seconds")
    p.add_argument("--budget", type=float, default=60.0, help="deduce budget per module, seconds")
    p.add_argument("--mem-mb", type=int, default=4096)
    p.add_argument("--mode", default="eval", choices=["eval", "train"])
    p.add_argument("--max-modules", type=int, default=None, help="per repo, for quick runs")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/yield_bench_work"))
    p.add_argument("--json", type=Path, help="save per-module results here")
    p.add_argument("--diff", type=Path, help="an older --json file to compare with")
    p.add_argument("--paritybench", type=Path, help="JSON {repo: runnable count} from paritybench")
    p.add_argument("--show", action="store_true", help="print each module's status and inputs")
    p.add_argument("--count-paritybench", type=Path, metavar="GENERATED_DIR",
                   help="print {repo: count} from paritybench's generated/ files for --repos-of's subdirectories")
    p.add_argument("--repos-of", type=Path, help="with --count-paritybench: the checkouts directory")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run crawled code without bwrap (only where bwrap is missing)")
    args = p.parse_args(argv)
    pb = json.loads(args.paritybench.read_text()) if args.paritybench else None
    if args.count_paritybench:
        names = sorted(d.name for d in args.repos_of.iterdir() if d.is_dir()) if args.repos_of else []
        print(json.dumps(count_paritybench(args.count_paritybench, names), indent=1))
        return 0
    if args.report:
        saved = json.loads(args.report.read_text())
        report(saved["modules"], saved["scanned"], pb)
        return 0
    if args.checkouts is None:
        p.error("give a checkouts directory (or --report FILE)")
    if not args.unsafe_no_sandbox and (problem := bwrap_problem()):
        print(f"error: {problem}; {INSTALL_HINT}", file=sys.stderr)
        return 2
    root = args.checkouts.resolve()
    names = args.repos.split(",") if args.repos else sorted(d.name for d in root.iterdir() if d.is_dir())
    scanned: dict[str, int] = {}
    requests: list[dict[str, Any]] = []
    for name in names:
        modules, _ = scan_repo(root / name)
        if args.max_modules is not None:
            modules = modules[: args.max_modules]
        scanned[name] = len(modules)
        requests += requests_for(name, root / name, modules, args)
    print(f"{len(requests)} modules in {len(names)} repos", file=sys.stderr)
    from capture.loading.crawl_env import versions
    print("crawl environment: " + ", ".join(f"{k} {v}" for k, v in versions().items() if v), file=sys.stderr)

    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.chmod(work, 0o755)
    sandbox = SandboxConfig(scratch_root=work / "scratch", cache_dir=work / "cache", readonly=[root],
                            unsafe=args.unsafe_no_sandbox)
    rows: list[dict[str, Any]] = []
    start = time.monotonic()

    def on_reply(reply: Reply) -> None:
        row = row_for(reply.request, reply.result)
        rows.append(row)
        if args.show:
            what = summarize_inputs(row["spec"]) if row["status"] == "runnable" and row.get("spec") else \
                f"{row.get('error_type')}: {(row.get('error_msg') or '')[:120]}"
            print(f"{row['status']:<16} {row['repo']}:{row['path']}:{row['qualname']}  {what}", file=sys.stderr)
        elif len(rows) % 50 == 0:
            print(f"  {len(rows)}/{len(requests)} done, {time.monotonic() - start:.0f} s", file=sys.stderr)

    WorkerPool(args.workers, sandbox).map(requests, on_reply)
    rows.sort(key=lambda r: (r["repo"], r["path"], r["qualname"]))
    overall = report(rows, scanned, pb)
    print(f"wall: {time.monotonic() - start:.0f} s", file=sys.stderr)
    if args.diff:
        diff(json.loads(args.diff.read_text())["modules"], rows)
    if args.json:
        from capture.loading.crawl_env import versions
        args.json.write_text(json.dumps({"overall": overall, "scanned": scanned, "packages": versions(),
                                         "modules": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
