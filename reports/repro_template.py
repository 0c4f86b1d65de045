#!/usr/bin/env python3
"""graphcrawl repro script (template: `graphcrawl triage repro` fills in EMBEDDED).

Rebuilds one crawled case exactly as a graphcrawl run did (same commit, same
constructor args and inputs from the stored spec, same stubs, same seed) and
runs it through the same stages: eager, frame-hook capture, the run's
backend, numeric parity. On a failure it prints the stage and exception type
next to what the run recorded, then re-raises: the exit code is non-zero and
the traceback ends in the same exception type.

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
        import capture.replay  # noqa: F401
        return
    except ImportError:
        pass
    for root in (os.environ.get("GRAPHCRAWL_SRC"), EMBEDDED.get("graphcrawl_src")):
        if root and (Path(root) / "capture" / "replay.py").is_file():
            sys.path.insert(0, str(root))
            import capture.replay  # noqa: F401
            return
    raise SystemExit("cannot import graphcrawl's capture.replay: install graphcrawl or set "
                     "GRAPHCRAWL_SRC to its source tree")


def innermost(exc: BaseException) -> BaseException:
    """The error the run recorded: backend wrappers hide the real one."""
    cause = getattr(exc, "cause", None)
    if type(exc).__name__ == "LoadError" and cause is not None:
        return cause
    while getattr(exc, "__cause__", None) is not None and type(exc).__name__ in UNWRAP:
        exc = exc.__cause__  # type: ignore[assignment]
    return exc


class StageFailed(Exception):
    def __init__(self, stage: str, exc: BaseException):
        super().__init__(f"{stage}: {type(exc).__name__}: {exc}")
        self.stage, self.exc = stage, exc


def stage(name: str):  # noqa: ANN201 - tiny context manager
    class _Stage:
        def __enter__(self) -> None:
            log(f"stage {name}")

        def __exit__(self, et, ev, tb) -> bool:  # noqa: ANN001
            if ev is not None and isinstance(ev, Exception) and not isinstance(ev, StageFailed):
                raise StageFailed(name, ev) from ev
            return False
    return _Stage()


def call(module: Any, args: list[Any], kwargs: dict[str, Any], seed: int, no_grad: bool) -> Any:
    import torch
    torch.manual_seed(seed)
    if no_grad:
        with torch.no_grad():
            return module(*args, **kwargs)
    return module(*args, **kwargs)


def build(co: Path, device: str) -> tuple[Any, list[Any], dict[str, Any], dict[str, Any]]:
    """(module, args, kwargs, spec) as the run built them: replay a stored spec, or
    deduce one as the run's first attempt did when none was stored."""
    from capture.loader import load_class
    from capture.replay import build_case, build_inputs, build_module
    from capture.steps import move
    case, run = EMBEDDED["case"], EMBEDDED["run"]
    spec, stubs = EMBEDDED["spec"], EMBEDDED["stubs"] or []
    with stage("import"):
        cls, used = load_class(co, case["path"], case["qualname"], stubs)
        if used:
            log(f"stubbed packages: {', '.join(used)}")
    if spec is not None:
        with stage("init"):
            module, args, kwargs = build_case(co, case["path"], case["qualname"], spec, stubs)
    else:
        log("no stored spec: deducing constructor args and inputs as the run did")
        from capture.deduce import DeduceFailed, deduce
        with stage("init"):
            try:
                found = deduce(cls, seed=run["seed"], mode=run["train_mode"], budget_s=run["deduce_budget_s"])
            except DeduceFailed as exc:
                raise StageFailed(exc.stage, exc.error or RuntimeError("no candidate inputs")) from exc
            spec = found.spec
            module = build_module(cls, spec)
            args, kwargs = build_inputs(spec)
    with stage("init"):
        module = module.to(device)
    return module, move(args, device), move(kwargs, device), spec


def compile_and_check(module: Any, args: list[Any], kwargs: dict[str, Any], backend: str, eager_out: Any,
                      ref64: Any, no_grad: bool) -> str | None:
    """Compile with `backend`, run twice, compare with eager; raises StageFailed."""
    import torch
    from backend import parity
    from capture import torch_api
    run = EMBEDDED["run"]
    torch_api.reset()
    compiled = torch.compile(module, backend=backend, fullgraph=bool(run["fullgraph"]), dynamic=run["dynamic"],
                             mode=run["compile_mode"])
    with stage("compile"):
        start = time.perf_counter()
        try:
            call(compiled, args, kwargs, run["seed"], no_grad)
        except Exception as exc:  # noqa: BLE001
            from capture.case import _is_compile_error
            raise StageFailed("compile" if _is_compile_error(exc) else "run", exc) from exc
        log(f"{backend}: compiled and ran in {time.perf_counter() - start:.2f} s")
    with stage("run"):
        out = call(compiled, args, kwargs, run["seed"], no_grad)
    with stage("parity"):
        p = parity.compare(eager_out, out, ref64, tol=run["tol"])
        log(f"{backend}: max_abs_err={p.max_abs_err} rmse={p.rmse} cosine={p.cosine} tol={p.tol:g}")
        if not p.ok:
            raise AssertionError(f"compiled output differs from eager beyond tol={p.tol:g}: "
                                 f"max_abs_err={p.max_abs_err}, rmse={p.rmse}, cosine={p.cosine}")
    return None


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
    proc = subprocess.run([sys.executable, str(launcher), "minify", "--no-isolate"], cwd=debug_root,
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


def reproduce(module: Any, args: list[Any], kwargs: dict[str, Any], spec: dict[str, Any], backend: str,
              minify: str | None, ladder: list[str] | None) -> int:
    import copy

    import torch
    from backend import parity
    from capture import torch_api
    run = EMBEDDED["run"]
    no_grad = bool(spec.get("no_grad", True))
    seed = run["seed"]
    torch_api.configure_for_validation()
    with stage("eager"):
        out1 = call(module, args, kwargs, seed, no_grad)
        out2 = call(module, args, kwargs, seed, no_grad)
        out3 = call(module, args, kwargs, seed + 1, no_grad)
        if not parity.tensors(out1):
            raise TypeError(f"forward returned no tensor (got {type(out1).__name__}); nothing to capture or compare")
    nondeterministic = not parity.outputs_equal(out1, out2) or not parity.outputs_equal(out1, out3)
    if nondeterministic:
        log("eager output changes between runs or seeds: eager_nondeterministic (a flag, not a pass)")
    try:
        m64 = copy.deepcopy(module).double()
        ref64 = call(m64, parity.to_fp64(args), parity.to_fp64(kwargs), seed, no_grad)
    except Exception:  # noqa: BLE001
        ref64 = None

    if ladder:
        return run_ladder(module, args, kwargs, ladder, out1, ref64, no_grad)

    with stage("capture"):
        with torch.no_grad() if no_grad else _Null():
            info = capture_info(torch_api, module, args, kwargs, run["dynamic"])
        log(f"captured {info.graph_count} graph(s), {info.graph_break_count} graph break(s)")
        for reason, gid in zip(info.break_reasons, info.break_ids):
            log(f"  break {gid or '-'}: {reason}")
        if info.graph_count == 0:   # as capture/case.py: nothing captured is a capture failure
            try:
                from capture.case import CaptureSkipped as Skipped
            except ImportError:
                Skipped = RuntimeError  # noqa: N806 - an older graphcrawl tree
            reasons = getattr(info, "skip_reasons", None) or ["forward has no operation Dynamo could trace"]
            raise Skipped(f"Dynamo captured no graph; the frame ran eagerly: {reasons[0]}")
        if run["fullgraph"] and info.graph_break_count:
            raise RuntimeError(f"fullgraph=True but {info.graph_break_count} graph break(s): "
                               f"{info.break_reasons[0] if info.break_reasons else ''}")
        torch_api.reset()
        hooked = torch.compile(module, backend="eager", fullgraph=bool(run["fullgraph"]), dynamic=run["dynamic"])
        call(hooked, args, kwargs, seed, no_grad)
    if minify:
        setup_minifier(minify, EMBEDDED["recorded"], MINIFY_ROOT)
    compile_and_check(module, args, kwargs, backend, out1, ref64, no_grad)
    if nondeterministic:
        log("compiled output matches, but eager is nondeterministic: the run records eager_nondeterministic")
    return 0


def run_ladder(module: Any, args: list[Any], kwargs: dict[str, Any], backends: list[str], eager_out: Any,
               ref64: Any, no_grad: bool) -> int:
    """Each backend in turn, up to the first that fails: it names the layer the bug is in
    (eager: TorchDynamo's capture; aot_eager: AOTAutograd tracing; inductor: codegen)."""
    for backend in backends:
        try:
            compile_and_check(module, args, kwargs, backend, eager_out, ref64, no_grad)
        except StageFailed as failed:
            err = innermost(failed.exc)
            first_line = str(err).splitlines()[0][:200] if str(err) else ""
            print(f"{backend:>10}: FAIL at {failed.stage}: {type(err).__name__}: {first_line}", flush=True)
            print(f"first failing backend: {backend}", flush=True)
            return 1
        print(f"{backend:>10}: ok", flush=True)
    print("no backend fails", flush=True)
    return 0


def capture_info(torch_api: Any, module: Any, args: list[Any], kwargs: dict[str, Any], dynamic: Any) -> Any:
    """What Dynamo captured, the way the case engine measures it (a counting backend;
    `explain` in graphcrawl trees older than the case steps)."""
    if hasattr(torch_api, "CountingCapture"):
        trace = torch_api.CountingCapture(module, dynamic=dynamic)
        trace.compiled(*args, **kwargs)
        return trace.info()
    return torch_api.explain(module, args, kwargs)


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


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
    try:
        module, args, kwargs, spec = build(co, opts.device)
        return reproduce(module, args, kwargs, spec, opts.backend, opts.minify_after if opts.minify else None,
                         ladder)
    except StageFailed as failed:
        err = innermost(failed.exc)
        same = type(err).__name__ == recorded["error_type"]
        log(f"FAILED at stage {failed.stage}: {type(err).__name__}: {str(err)[:500]}")
        log(("REPRODUCED: same exception type as recorded" if same else
             f"DIFFERENT from the recorded {recorded['error_type']} at {recorded['stage']}"))
        if MINIFY_ROOT is not None:
            minified = run_minifier(MINIFY_ROOT)
            if minified is not None:
                print(f"minified repro: {minified}", flush=True)
        raise err from None


if __name__ == "__main__":
    sys.exit(main())
