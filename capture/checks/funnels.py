"""Run one case inside a sandboxed child: the status funnels in code.

A case is a sequence of named steps (capture/checks/steps.py), each of which
announces its stage, times itself into `stage_s`, and ends the case with a
status when its check fails. The funnels compose them:

  inference: load -> build -> eager -> one_trace (compile, capture figures and hook timing from
             one Dynamo trace; where it does not finish: capture + hook timing, then compile)
             -> run -> parity -> timing -> verdict
  training:  load -> build -> training.run (capture/checks/training.py: fwd + loss + bwd)
  dynamic:   load -> build -> eager -> dynamic.run (capture/checks/dynamic.py)
  eager:     load -> build -> eager -> runnable (`crawl --check eager`: which modules run,
             before any compile time is spent; its specs replay into the full checks)
  export:    load -> build -> eager -> export.run (capture/checks/export.py: non-strict and
             strict export, run + parity, save/load, Dim.AUTO batch, AOTInductor)

Where a status is decided: in the step that raises it (steps.py lists every
step's statuses in its raises); `run_case` turns the ending into plain data.
"""
from __future__ import annotations

import traceback
from typing import Any, Callable

from capture import reasons, torch_api
from capture.checks import steps
from capture.checks.steps import Case, CaseEnded, CaseFailed, StageFn
from db.status import CaseStatus as S, Stage


def error_fields(exc: BaseException) -> dict[str, Any]:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    cause = exc
    # Backend wrappers hide the real error; report the innermost cause's type.
    while getattr(cause, "__cause__", None) is not None and type(cause).__name__ in (
            "BackendCompilerFailed", "InductorError", "LoadError"):
        cause = cause.__cause__  # type: ignore[assignment]
    return {
        "error_type": type(cause).__name__,
        "error_msg": str(cause)[:4000],
        "error_frame": torch_api.innermost_torch_frame(cause.__traceback__ or exc.__traceback__),
        "traceback": tb[-16000:],
    }


OOM_TEXT = ("can't allocate memory", "out of memory", "std::bad_alloc", "Cannot allocate memory")


def is_oom(exc: BaseException) -> bool:
    """Allocation failures, whatever type the allocator raised them as."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return any(t in str(exc) for t in OOM_TEXT)


def run_case(req: dict[str, Any], on_stage: StageFn = lambda s: None, reraise: bool = False,
             on_progress: Callable[[dict[str, Any]], None] = lambda r: None) -> dict[str, Any]:
    """Run one request (see capture/workers/worker.py for its fields).

    Never raises in the worker. With reraise=True (repro scripts) a step that
    ends the case with an exception raises CaseFailed from that exception, so
    a repro runs exactly the steps the case ran and fails the way it failed.
    """
    result: dict[str, Any] = {"stubs": req.get("stubs") or []}
    try:
        _run(req, result, on_stage, on_progress)
        result["status"] = result.get("status", S.PASS.value)
        result["stage"] = Stage.DONE.value
    except CaseEnded as ended:
        result.update(ended.fields)
        result["status"], result["stage"] = ended.status.value, ended.stage.value
        if ended.exc is not None:
            result.update(error_fields(ended.exc))
            if is_oom(ended.exc):
                result["status"] = S.OOM.value
            if reraise:
                raise CaseFailed(result["status"], result["stage"], ended.exc, result) from ended.exc
    except MemoryError as exc:
        result.update(error_fields(exc))
        result["status"], result["stage"] = S.OOM.value, result.get("_stage", "unknown")
    result.pop("_stage", None)
    result["reason"] = result.get("reason") or reasons.classify(result)  # capture/reasons.py
    return result


def _run(req: dict[str, Any], result: dict[str, Any], on_stage: StageFn,
         on_progress: Callable[[dict[str, Any]], None]) -> None:
    torch_api.configure_for_validation()
    c = Case(req, result, on_stage, on_progress)
    FUNNELS[req.get("check") or "inference"](c)


def inference(c: Case) -> None:
    """One forward at the stored shape: capture, compile, run, compare, time."""
    steps.load(c)
    steps.build(c)
    steps.eager(c)
    if c.req.get("stop_after") == "eager":
        c.result["status"] = S.RUNNABLE.value  # the yield benchmark's hook (scripts/yield_bench.py)
        return
    if not steps.one_trace(c):   # capture + compile in one Dynamo trace, else in two
        steps.capture(c)
        steps.compile(c)
    if steps.nondeterministic(c):
        return
    steps.run(c)
    steps.parity(c)
    steps.timing(c)
    steps.verdict(c)


def _training(c: Case) -> None:
    from capture.checks import training
    steps.load(c)
    steps.build(c)
    training.run(c)  # its own eager runs: train mode, grad enabled


def _dynamic(c: Case) -> None:
    from capture.checks import dynamic
    steps.load(c)
    steps.build(c)
    steps.eager(c)
    dynamic.run(c)


def _eager(c: Case) -> None:
    """Eager only: the status says the module runs, never that it compiles."""
    steps.load(c)
    steps.build(c)
    steps.eager(c)
    # another output for the same seed; a seed-dependent one (dropout) is runnable, flagged
    c.result["status"] = (S.EAGER_NONDETERMINISTIC if c.result.get("nondeterministic") else S.RUNNABLE).value


def _export(c: Case) -> None:
    import copy

    from capture.checks import export
    steps.load(c)
    steps.build(c)
    # a train-mode module's buffers move with each eager run: export what was built
    fresh = copy.deepcopy(c.module) if c.module is not None and c.module.training else None
    steps.eager(c)
    export.run(c, fresh)


FUNNELS: dict[str, Callable[[Case], None]] = {"inference": inference, "training": _training, "dynamic": _dynamic,
                                              "eager": _eager, "export": _export}
