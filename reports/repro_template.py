#!/usr/bin/env python3
"""graphcrawl repro script (template: `graphcrawl triage repro` fills in EMBEDDED).

Rebuilds one crawled case exactly as a graphcrawl run did (same commit, same
constructor args and inputs from the stored spec, same stubs, same seed) and
runs it through the very steps the run's check ran (graphcrawl's own
capture/checks funnels, called with reraise=True): eager, frame-hook capture,
the run's backend, numeric parity (or the training / dynamic-shape steps; for an
export run: torch.export, the exported program's run and parity, save/load, the
dynamic batch and AOTInductor). On
a failure it prints the stage and exception type next to what the run
recorded, then re-raises: the exit code is non-zero and the traceback ends in
the same exception type.

Usage:
  python repro.py [CHECKOUT_DIR]            clone (if absent) and reproduce
  python repro.py [CHECKOUT_DIR] --ladder   try eager -> aot_eager -> inductor,
                                            print the first backend that fails
  python repro.py --minify                  run torch's minifier on the failure
  more: --backend B, --device D, --ladder-backends a,b,c, --no-clone

Needs torch and git, and the graphcrawl source tree (found on sys.path, in
$GRAPHCRAWL_SRC, or at the path recorded when this script was generated).
WARNING: this runs the crawled project's code on this machine, unsandboxed.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

EMBEDDED: dict[str, Any] = {}  # <graphcrawl:embedded>

LADDER = ["eager", "aot_eager", "inductor"]
MINIFY_ROOT: Path | None = None   # set by main() when --minify
UNWRAP = ("BackendCompilerFailed", "InductorError", "LoadError")


def log(msg: str) -> None:
    print(f"[repro] {msg}", file=sys.stderr, flush=True)


# -- the checkout -------------------------------------------------------------

def git(args: list[str], cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_LFS_SKIP_SMUDGE="1")
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()[-500:]}")
    return proc


def checkout(dest: Path, url: str, sha: str, clone: bool = True) -> Path:
    """`dest` at commit `sha`: cloned when absent (shallow fetch of the one commit if the
    server allows it, else a full fetch), moved to `sha` when it is elsewhere."""
    if not (dest / ".git").exists():
        if not clone:
            raise SystemExit(f"{dest} is not a git checkout (and --no-clone was given)")
        if dest.exists() and any(dest.iterdir()):
            raise SystemExit(f"{dest} exists and is not a git checkout; give another directory")
        log(f"cloning {url} @ {sha[:12]} into {dest}")
        dest.mkdir(parents=True, exist_ok=True)
        git(["init", "-q", str(dest)])
        git(["remote", "add", "origin", url], cwd=dest)
    head = git(["rev-parse", "HEAD"], cwd=dest, check=False).stdout.strip()
    if head != sha:
        if git(["cat-file", "-e", f"{sha}^{{commit}}"], cwd=dest, check=False).returncode != 0:
            if git(["fetch", "-q", "--depth", "1", "origin", sha], cwd=dest, check=False).returncode != 0:
                git(["fetch", "-q", "origin"], cwd=dest)
        git(["checkout", "-q", "--detach", sha], cwd=dest)
    return dest.resolve()


# -- graphcrawl's case builder ---------------------------------------------------

def import_graphcrawl() -> None:
    """Put the graphcrawl source tree on sys.path unless it is importable already."""
    try:
        import capture.checks.funnels  # noqa: F401
        return
    except ImportError:
        pass
    for root in (os.environ.get("GRAPHCRAWL_SRC"), EMBEDDED.get("graphcrawl_src")):
        if root and (Path(root) / "capture" / "checks" / "funnels.py").is_file():
            sys.path.insert(0, str(root))
            import capture.checks.funnels  # noqa: F401
            return
    raise SystemExit("cannot import graphcrawl's capture.checks.funnels: install graphcrawl or set "
                     "GRAPHCRAWL_SRC to its source tree")


def innermost(exc: BaseException) -> BaseException:
    """The error the run recorded: backend wrappers hide the real one."""
    cause = getattr(exc, "cause", None)
    if type(exc).__name__ == "LoadError" and cause is not None:
        return cause
    while getattr(exc, "__cause__", None) is not None and type(exc).__name__ in UNWRAP:
        exc = exc.__cause__  # type: ignore[assignment]
    return exc


def request(co: Path, backend: str, device: str, skip_timing: bool = False) -> dict[str, Any]:
    """The worker request the run sent for this case, with this checkout, backend and device."""
    case, run = EMBEDDED["case"], EMBEDDED["run"]
    return {"case_id": case["id"], "checkout": str(co), "path": case["path"], "qualname": case["qualname"],
            "spec": EMBEDDED["spec"], "stubs": EMBEDDED["stubs"] or [], "found_by": EMBEDDED.get("found_by"),
            "check": run.get("check") or "inference", "device": device, "backend": backend,
            "compile_mode": run["compile_mode"], "fullgraph": run["fullgraph"], "dynamic": run["dynamic"],
            "seed": run["seed"], "mode": run["train_mode"], "tol": run["tol"],
            "deduce_budget_s": run["deduce_budget_s"], "skip_timing": skip_timing}


def run_steps(req: dict[str, Any]) -> dict[str, Any]:
    """The case's own funnel (capture/checks/funnels.py), step for step; a failing step
    re-raises its exception as CaseFailed (status, stage, the original exception)."""
    from capture.checks.funnels import run_case
    result = run_case(req, on_stage=lambda s: log(f"stage {s}"), reraise=True)
    for key in ("graph_count", "graph_break_count", "compile_s", "max_abs_err", "speedup"):
        if result.get(key) is not None:
            log(f"  {key} = {result[key]}")
    return result


def run_ladder(co: Path, device: str, backends: list[str]) -> int:
    """Each backend in turn, up to the first that fails: it names the layer the bug is in
    (eager: TorchDynamo's capture; aot_eager: AOTAutograd tracing; inductor: codegen)."""
    from capture.checks.steps import CaseFailed
    for backend in backends:
        try:
            run_steps(request(co, backend, device, skip_timing=True))
        except CaseFailed as failed:
            err = innermost(failed.exc)
            first_line = str(err).splitlines()[0][:200] if str(err) else ""
            print(f"{backend:>10}: FAIL at {failed.stage}: {type(err).__name__}: {first_line}", flush=True)
            print(f"first failing backend: {backend}", flush=True)
            return 1
        print(f"{backend:>10}: ok", flush=True)
    print("no backend fails", flush=True)
    return 0


def setup_minifier(after: str, recorded: dict[str, Any], debug_root: Path | None = None) -> None:
    """torch's minifier: on the failure, torch dumps the failing graph as a minifier_launcher.py
    under `debug_root` (repro level 4 checks accuracy, for parity failures; 2 dumps on an error)."""
    import torch._dynamo.config as dcfg
    level = int(os.environ.get("TORCHDYNAMO_REPRO_LEVEL")       # the user's choice, else from the status:
                or (4 if recorded.get("status") == "parity_failed" else 2))   # 4: accuracy minification
    os.environ["TORCHDYNAMO_REPRO_AFTER"] = after
    os.environ["TORCHDYNAMO_REPRO_LEVEL"] = str(level)
    dcfg.repro_after = after
    dcfg.repro_level = level
    if debug_root is not None:
        debug_root.mkdir(parents=True, exist_ok=True)
        dcfg.debug_dir_root = str(debug_root)
    log(f"minifier on: repro_after={after!r} repro_level={level}; output under {dcfg.debug_dir_root}")


def setup_aoti_minifier(recorded: dict[str, Any], debug_root: Path | None = None) -> None:
    """AOTInductor's own minifier (export runs): torch dumps the exported program as a
    minifier_launcher.py when aoti_compile_and_package fails (level 2) or, for a parity
    failure, when its output differs from the program's (level 4)."""
    import torch._dynamo.config as dcfg
    import torch._inductor.config as icfg
    level = int(os.environ.get("AOTINDUCTOR_REPRO_LEVEL") or (4 if recorded.get("status") == "parity_failed" else 2))
    icfg.aot_inductor.dump_aoti_minifier = True
    icfg.aot_inductor.repro_level = level
    if debug_root is not None:
        debug_root.mkdir(parents=True, exist_ok=True)
        dcfg.debug_dir_root = str(debug_root)
    log(f"AOTInductor minifier on: repro_level={level}; output under {dcfg.debug_dir_root}")


def run_minifier(debug_root: Path, timeout_s: float = 3600) -> Path | None:
    """Run the minifier_launcher.py torch dumped (in-process queries: --no-isolate, much faster);
    returns the minified repro torch writes (repro.py in `debug_root`), or None."""
    launchers = sorted(debug_root.rglob("minifier_launcher.py"), key=lambda p: p.stat().st_mtime)
    if not launchers:
        log(f"torch dumped no minifier_launcher.py under {debug_root}: nothing to minify")
        return None
    launcher = launchers[-1]
    log(f"minifying with torch's minifier: {launcher}")
    start = time.perf_counter()
    aoti = "aot_inductor" in launcher.read_text()   # AOTInductor's launcher takes no --no-isolate
    proc = subprocess.run([sys.executable, str(launcher), "minify", *([] if aoti else ["--no-isolate"])], cwd=debug_root,
                          capture_output=True, text=True, timeout=timeout_s)
    out = debug_root / "repro.py"
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    if not out.exists():
        log(f"the minifier wrote no repro (exit {proc.returncode}): {' | '.join(tail)}")
        return None
    log(f"minified in {time.perf_counter() - start:.0f} s: {out}")
    return out


def minify_dir(co: Path) -> Path:
    return co.parent / f"minify_{EMBEDDED['case']['name']}"


def main(argv: list[str] | None = None) -> int:
    case, run, recorded = EMBEDDED["case"], EMBEDDED["run"], EMBEDDED["recorded"]
    ap = argparse.ArgumentParser(description=f"Reproduce graphcrawl case {case['id']} (run {run['id']}).")
    ap.add_argument("checkout", nargs="?", type=Path, default=Path.cwd() / f"repro_{case['name']}",
                    help=f"where the project is (cloned if absent; default ./repro_{case['name']})")
    ap.add_argument("--no-clone", action="store_true", help="use CHECKOUT as it is; never clone")
    ap.add_argument("--backend", default=run["backend"], help=f"torch.compile backend (run used {run['backend']})")
    ap.add_argument("--device", default=run["device"], help=f"device (run used {run['device']})")
    ap.add_argument("--ladder", action="store_true", help="eager -> aot_eager -> inductor; first failing backend")
    ap.add_argument("--ladder-backends", default=",".join(LADDER), help="comma-separated ladder")
    ap.add_argument("--minify", action="store_true", default=bool(EMBEDDED.get("minify")),
                    help="run torch's minifier on the failure")
    ap.add_argument("--minify-after", choices=["dynamo", "aot"], default="aot",
                    help="minify the dynamo graph or the AOT graph (default aot)")
    opts = ap.parse_args(argv)

    log(f"case {case['id']}")
    log(f"recorded in run {run['id']} (torch {run['torch']}, {run['device']}, backend {run['backend']}): "
        f"{recorded['status']} at {recorded['stage']}: {recorded['error_type']} (cluster {recorded['cluster']})")
    co = checkout(opts.checkout, case["url"], case["sha"], clone=not opts.no_clone)
    import_graphcrawl()   # before the checkout goes on sys.path: a project's own `capture` must not win
    sys.path.insert(0, str(co))
    import torch  # noqa: F401 - after the checkout, so a clone failure is quick
    ladder = [b.strip() for b in opts.ladder_backends.split(",") if b.strip()] if opts.ladder else None
    global MINIFY_ROOT
    MINIFY_ROOT = minify_dir(co) if opts.minify else None
    from capture.checks.steps import CaseFailed
    try:
        if ladder:
            return run_ladder(co, opts.device, ladder)
        if opts.minify and run.get("check") == "export":
            if recorded.get("stage") != "aoti":
                log("--minify: torch's minifiers shrink AOTInductor failures; this export case failed at "
                    f"{recorded.get('stage')}, so it is reproduced without minifying")
                MINIFY_ROOT = None
            else:
                setup_aoti_minifier(recorded, MINIFY_ROOT)
        elif opts.minify:
            setup_minifier(opts.minify_after, recorded, MINIFY_ROOT)
        result = run_steps(request(co, opts.backend, opts.device))
        log(f"ended {result['status']} at {result['stage']}"
            + (" (eager is nondeterministic: a flag, not a pass)" if result["status"] == "eager_nondeterministic"
               else ""))
        return 0
    except CaseFailed as failed:
        err = innermost(failed.exc)
        same = type(err).__name__ == recorded["error_type"]
        log(f"FAILED ({failed.status}) at stage {failed.stage}: {type(err).__name__}: {str(err)[:500]}")
        log(("REPRODUCED: same exception type as recorded" if same else
             f"DIFFERENT from the recorded {recorded['error_type']} at {recorded['stage']}"))
        if MINIFY_ROOT is not None:
            minified = run_minifier(MINIFY_ROOT)
            if minified is not None:
                print(f"minified repro: {minified}", flush=True)
        raise err from None


if __name__ == "__main__":
    sys.exit(main())
