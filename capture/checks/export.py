"""The export funnel: graph capture's second door, torch.export, and AOTInductor behind it.

torch.compile may break a forward into graphs and run the rest in Python;
torch.export must capture the whole forward as one graph with no Python
fallback, and that graph is what AOTInductor compiles for deployment. After
load, build and eager (capture/checks/steps.py), the steps here run in order,
each in its stage, with its seconds in `stage_s` and its outcome in
`export_steps[step]` = {ok, s, class, error}:

  nonstrict  torch.export.export(strict=False)                         stage export
  strict     the same with strict=True (Dynamo): recorded, never the case's status
  run        ep.module() on the case's inputs, parity with eager         stage export
  serialize  torch.export.save / load in the scratch, the loaded program stage serialize
  dynamic    export with Dim.AUTO on the batch, run at a second size   stage dynamic
  aoti       aoti_compile_and_package, aoti_load_package, run, parity   stage aoti

Every step that has a program to work on runs (a failing run does not stop
serialization), so each door's pass rate is measured on its own; the case's
status is the first failure in that order:

  an export raises                     capture_failed (export, or dynamic for Dim.AUTO), with export_class
  save/load or AOTInductor's compile   compile_failed (serialize / aoti)
  a program raises when run or loaded  run_failed (export / serialize / dynamic / aoti)
  a program's output differs           parity_failed (export / serialize / dynamic / aoti)
  nothing fails, eager not reproducible  eager_nondeterministic (a parity failure then is no verdict)

Where export fails, torch.export.draft_export's report (every issue it found,
not only the first) is kept in `draft_report` for triage.
"""
from __future__ import annotations

import copy
import os
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable

import torch

from backend import parity as parity_mod
from capture import torch_api
from capture.checks import steps
from capture.checks.steps import Case, CaseEnded, move
from db.status import CaseStatus as S, Stage

STEPS = ("nonstrict", "strict", "run", "serialize", "dynamic", "aoti")


@dataclass
class Failure:
    """A step's failing verdict, kept until every step has run; the first one ends the case."""

    status: S
    stage: Stage
    exc: BaseException
    parity: bool = False


class Outcomes:
    """`export_steps`: each step's outcome, and the failures in step order."""

    def __init__(self, c: Case) -> None:
        self.c = c
        self.steps: dict[str, dict[str, Any]] = {}
        self.failures: list[Failure] = []
        c.result["export_steps"] = self.steps

    def ok(self, step: str, seconds: float, **extra: Any) -> None:
        self.steps[step] = {"ok": True, "s": round(seconds, 4), **extra}

    def fail(self, step: str, seconds: float, status: S, stage: Stage, exc: BaseException,
             klass: str | None = None, parity: bool = False, counts: bool = True, **extra: Any) -> None:
        self.steps[step] = {"ok": False, "s": round(seconds, 4), "status": status.value,
                            "error": torch_api.first_line(f"{type(exc).__name__}: {exc}")[:300], **extra}
        if klass:
            self.steps[step]["class"] = klass
        if counts:
            self.failures.append(Failure(status, stage, exc, parity))


def _scratch(c: Case) -> str:
    base = c.req.get("scratch") or tempfile.gettempdir()
    path = os.path.join(base, "export")
    os.makedirs(path, exist_ok=True)
    return path


def _grad(c: Case) -> Any:
    return torch.no_grad() if c.no_grad else nullcontext()


def _export(c: Case, module: torch.nn.Module, strict: bool, dynamic_shapes: Any = None) -> Any:
    with _grad(c):
        return torch_api.export_program(module, c.args, c.kwargs, strict=strict, dynamic_shapes=dynamic_shapes)


def _compare(c: Case, want: Any, got: Any, args: list[Any] | None = None,
             kwargs: dict[str, Any] | None = None) -> parity_mod.Parity:
    """Parity as inference judges it: allclose, then torch's `same` against a lazy fp64 run."""
    if args is None:
        reference: Callable[[], Any] = c.reference
    else:
        def reference() -> Any:
            try:
                return c.call(copy.deepcopy(c.module).double(), parity_mod.to_fp64(args), parity_mod.to_fp64(kwargs))
            except Exception:  # noqa: BLE001 - modules that cannot run in fp64 compare without it
                return None
    return parity_mod.compare(want, got, tol=float(c.req.get("tol", parity_mod.DEFAULT_TOL)), reference=reference)


def _run_and_compare(c: Case, o: Outcomes, step: str, stage: Stage, fn: Any, start: float,
                     args: list[Any] | None = None, kwargs: dict[str, Any] | None = None, want: Any = None,
                     **extra: Any) -> parity_mod.Parity | None:
    """Run a program (exported, loaded, AOTInductor's) and compare it with eager; record the step."""
    try:
        got = c.call(fn, args, kwargs)
    except Exception as exc:  # noqa: BLE001
        o.fail(step, time.perf_counter() - start, S.RUN_FAILED, stage, exc, **extra)
        return None
    p = _compare(c, c.eager_out if want is None else want, got, args, kwargs)
    seconds = time.perf_counter() - start
    if p.ok:
        o.ok(step, seconds, max_abs_err=p.max_abs_err, **extra)
    else:
        o.fail(step, seconds, S.PARITY_FAILED, stage, AssertionError(
            f"{step}: output differs from eager beyond tol={p.tol:g}: max_abs_err={p.max_abs_err}, "
            f"rmse={p.rmse}, cosine={p.cosine}"), parity=True, max_abs_err=p.max_abs_err, **extra)
    return p


# -- the steps ---------------------------------------------------------------------------

def export_both(c: Case, o: Outcomes, module: torch.nn.Module) -> Any:
    """Non-strict and strict export; draft_export's report where either fails. Returns the non-strict program."""
    c.announce(Stage.EXPORT)
    programs: dict[str, Any] = {}
    for step, strict in (("nonstrict", False), ("strict", True)):
        with c.timed(f"export_{step}"):
            start = time.perf_counter()
            try:
                programs[step] = _export(c, copy.deepcopy(module) if strict else module, strict)
                o.ok(step, time.perf_counter() - start)
            except Exception as exc:  # noqa: BLE001
                klass = torch_api.export_failure_class(exc, strict)
                o.fail(step, time.perf_counter() - start, S.CAPTURE_FAILED, Stage.EXPORT, exc, klass=klass,
                       counts=not strict, frame=torch_api.innermost_torch_frame(exc.__traceback__))
                if not strict:
                    c.result["export_class"] = klass
        if step == "nonstrict":
            c.result["capture_s"] = o.steps[step]["s"]
    c.result["export_strict"] = "pass" if "strict" in programs else o.steps["strict"].get("class", "other")
    if len(programs) < 2:
        with c.timed("draft_export"):
            c.result["draft_report"] = torch_api.draft_export_report(module, c.args, c.kwargs)
    return programs.get("nonstrict")


def run_program(c: Case, o: Outcomes, ep: Any) -> None:
    """ep.module() on the case's inputs, compared with eager."""
    c.announce(Stage.EXPORT)
    with c.timed("export_run"):
        start = time.perf_counter()
        try:
            module = ep.module()
        except Exception as exc:  # noqa: BLE001
            o.fail("run", time.perf_counter() - start, S.RUN_FAILED, Stage.EXPORT, exc)
            return
        p = _run_and_compare(c, o, "run", Stage.EXPORT, module, start)
    if p is not None:
        c.parity = p
        c.result.update(max_abs_err=p.max_abs_err, rmse=p.rmse, cosine=p.cosine, atol=p.tol, rtol=p.tol)


def serialize(c: Case, o: Outcomes, ep: Any) -> None:
    """torch.export.save then load in the scratch; the loaded program must run as the saved one."""
    c.announce(Stage.SERIALIZE)
    with c.timed("serialize"):
        start = time.perf_counter()
        path = os.path.join(_scratch(c), "program.pt2")
        try:
            torch_api.save_program(ep, path)
            loaded = torch_api.load_program(path).module()
        except Exception as exc:  # noqa: BLE001
            o.fail("serialize", time.perf_counter() - start, S.COMPILE_FAILED, Stage.SERIALIZE, exc)
            return
        _run_and_compare(c, o, "serialize", Stage.SERIALIZE, loaded, start, bytes=os.path.getsize(path))


def dynamic_batch(c: Case, o: Outcomes, module: torch.nn.Module) -> None:
    """Export again with Dim.AUTO on the batch, then run at a second size that eager accepts."""
    from capture.checks.dynamic import derive_sizes
    from capture.deduce import specs
    c.announce(Stage.DYNAMIC)
    with c.timed("export_dynamic"):
        start = time.perf_counter()
        found_by = c.req.get("found_by") or c.result.get("found_by")
        tried: list[str] = []
        for label, inputs in derive_sizes(c.spec["inputs"], found_by):
            if not label.startswith("batch="):
                continue
            args, kwargs = specs.materialize_call(inputs, specs.make_generator(c.spec.get("seed", 0)))
            args, kwargs = move(args, c.device), move(kwargs, c.device)
            try:
                want = c.call(c.module, args, kwargs)
            except Exception:  # noqa: BLE001 - the module's own limit, not torch.export's
                tried.append(label)
                continue
            break
        else:
            o.steps["dynamic"] = {"ok": None, "s": round(time.perf_counter() - start, 4), "size": None,
                                  "rejected": tried, "note": "eager accepts no other batch size: not measured"}
            return
        shapes, marked = torch_api.batch_dynamic_shapes(module, c.args, c.kwargs, args, kwargs)
        try:
            ep = _export(c, module, strict=False, dynamic_shapes=shapes)
        except Exception as exc:  # noqa: BLE001
            o.fail("dynamic", time.perf_counter() - start, S.CAPTURE_FAILED, Stage.DYNAMIC, exc,
                   klass=torch_api.export_failure_class(exc, False), size=label)
            return
        symbolic = torch_api.symbolic_input_dims(ep)
        specialized = not any(any(dims) for dims in symbolic)
        c.result["dynamic_specialized"] = specialized
        if specialized:  # torch proved the batch static (e.g. a reshape to it): a finding, not a failure
            o.ok("dynamic", time.perf_counter() - start, size=label, specialized=True)
            return
        _run_and_compare(c, o, "dynamic", Stage.DYNAMIC, ep.module(), start, args, kwargs, want,
                         size=label, specialized=False)


def aoti(c: Case, o: Outcomes, ep: Any) -> None:
    """AOTInductor: compile the program into a package in the scratch, load it, run, compare."""
    c.announce(Stage.AOTI)
    with c.timed("aoti_compile"):
        path = os.path.join(_scratch(c), "aoti.pt2")
        start, cpu_start = time.perf_counter(), steps.process_cpu_s()
        try:
            package = torch_api.aoti_compile(ep, path)
        except Exception as exc:  # noqa: BLE001
            o.fail("aoti", time.perf_counter() - start, S.COMPILE_FAILED, Stage.AOTI, exc)
            return
        c.result["compile_s"] = round(time.perf_counter() - start, 4)
        c.result["compile_cpu_s"] = round(steps.process_cpu_s() - cpu_start, 4)  # gcc included, as steps.compile
    with c.timed("aoti_run"):
        run_start = time.perf_counter()
        try:
            runner = torch_api.aoti_load(package)
        except Exception as exc:  # noqa: BLE001 - a package that does not load is a status, not a crash
            o.fail("aoti", c.result["compile_s"] + time.perf_counter() - run_start, S.RUN_FAILED, Stage.AOTI, exc,
                   load=False)
            return
        _run_and_compare(c, o, "aoti", Stage.AOTI, runner, run_start - c.result["compile_s"],
                         compile_s=c.result["compile_s"])


def run(c: Case, fresh: torch.nn.Module | None = None) -> None:
    """The export funnel after load, build and eager (see the module docstring).

    `fresh`: the module as built, before eager ran it, for a train-mode module whose
    buffers eager moved (None: eval mode, nothing moved).
    """
    module = fresh if fresh is not None else c.module
    o = Outcomes(c)
    ep = export_both(c, o, module)
    if ep is not None:
        run_program(c, o, ep)
        serialize(c, o, ep)
        dynamic_batch(c, o, module)
        aoti(c, o, ep)
    verdict(c, o)


def verdict(c: Case, o: Outcomes) -> None:
    """The first failure in step order; eager's nondeterminism (another output for the same seed)
    voids parity verdicts only. A seed-dependent module is judged: both sides get the same seeds."""
    nondeterministic = bool(c.result.get("nondeterministic"))
    for f in o.failures:
        if f.parity and nondeterministic:
            continue
        if "export_class" not in c.result and f.status is S.CAPTURE_FAILED:
            c.result["export_class"] = o.steps.get("dynamic", {}).get("class")
        raise CaseEnded(f.status, f.stage, f.exc)
    c.result["status"] = (S.EAGER_NONDETERMINISTIC if nondeterministic else S.PASS).value
