"""Run one case end to end inside a sandboxed child: the status funnel in code.

import -> init/inputs (deduce or replay) -> eager x2 (+ a reseeded run, + fp64)
-> capture with the frame hook (explain, hook overhead) -> full backend compile
-> run -> parity -> timings. Each stage is announced before it starts, so a
crash or timeout is recorded with the stage it happened in. Returns plain data.
"""
from __future__ import annotations

import copy
import time
import traceback
from typing import Any, Callable

import torch

from backend import parity as parity_mod
from backend.timing import interleaved_ms
from capture import reasons, torch_api
from capture.deduce import DeduceFailed, deduce, is_input_error
from capture.loader import LoadError, load_class
from capture.replay import build_inputs, build_module
from db.status import CaseStatus as S, Stage

StageFn = Callable[[str], None]


def _move(value: Any, device: str) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(_move(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _move(v, device) for k, v in value.items()}
    return value


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


class CaptureSkipped(Exception):
    """Dynamo captured no graph at all: the module ran eagerly under torch.compile."""


class CaseEnded(Exception):
    def __init__(self, status: S, stage: Stage, exc: BaseException | None = None, **fields: Any):
        super().__init__(status.value)
        self.status, self.stage, self.exc, self.fields = status, stage, exc, fields


def _call(module: Any, args: list[Any], kwargs: dict[str, Any], seed: int, no_grad: bool) -> Any:
    torch.manual_seed(seed)
    if no_grad:
        with torch.no_grad():
            return module(*args, **kwargs)
    return module(*args, **kwargs)


def run_case(req: dict[str, Any], on_stage: StageFn = lambda s: None) -> dict[str, Any]:
    """Run one request (see capture/worker.py for its fields); never raises."""
    result: dict[str, Any] = {"stubs": req.get("stubs") or []}
    try:
        _run(req, result, on_stage)
        result["status"] = result.get("status", S.PASS.value)
        result["stage"] = Stage.DONE.value
    except CaseEnded as ended:
        result.update(ended.fields)
        result["status"], result["stage"] = ended.status.value, ended.stage.value
        if ended.exc is not None:
            result.update(error_fields(ended.exc))
            if is_oom(ended.exc):
                result["status"] = S.OOM.value
    except MemoryError as exc:
        result.update(error_fields(exc))
        result["status"], result["stage"] = S.OOM.value, result.get("_stage", "unknown")
    result.pop("_stage", None)
    result["reason"] = result.get("reason") or reasons.classify(result)  # capture/reasons.py
    return result


def _run(req: dict[str, Any], result: dict[str, Any], on_stage: StageFn) -> None:
    def stage(s: Stage) -> None:
        result["_stage"] = s.value
        on_stage(s.value)

    device = req.get("device", "cpu")
    seed = int(req.get("seed", 0))
    torch_api.configure_for_validation()

    stage(Stage.IMPORT)
    try:
        cls, stubs = load_class(req["checkout"], req["path"], req["qualname"], req.get("stubs"))
    except LoadError as exc:
        fields = {"stubs": sorted(set(result["stubs"]) | ({exc.missing} if exc.missing else set()))}
        raise CaseEnded(S.IMPORT_FAILED, Stage.IMPORT, exc.cause or exc, **fields) from None
    result["stubs"] = stubs
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        raise CaseEnded(S.INIT_FAILED, Stage.INIT, TypeError(f"{req['qualname']} is not an nn.Module subclass"))

    spec = req.get("spec")
    if spec is None:
        stage(Stage.INIT)
        try:
            found = deduce(cls, seed=seed, mode=req.get("mode", "eval"),
                           budget_s=float(req.get("deduce_budget_s", 60)))
        except DeduceFailed as exc:
            status = {"init": S.INIT_FAILED, "inputs": S.INPUTS_NOT_FOUND, "eager": S.EAGER_FAILED}[exc.stage]
            err = exc.error or RuntimeError("no candidate inputs")
            raise CaseEnded(status, Stage(exc.stage if exc.stage != "inputs" else "inputs"), err,
                            found_by=exc.found_by, tries=exc.tries) from None
        spec, module = found.spec, found.module
        result.update(spec=spec, found_by=found.found_by)
    else:
        stage(Stage.INIT)
        try:
            module = build_module(cls, spec)
        except Exception as exc:  # noqa: BLE001
            raise CaseEnded(S.INIT_FAILED, Stage.INIT, exc) from None

    no_grad = bool(spec.get("no_grad", True))
    module = module.to(device)
    args, kwargs = build_inputs(spec)
    args, kwargs = _move(args, device), _move(kwargs, device)

    stage(Stage.EAGER)
    try:
        out1 = _call(module, args, kwargs, seed, no_grad)
        out2 = _call(module, args, kwargs, seed, no_grad)
        out3 = _call(module, args, kwargs, seed + 1, no_grad)
    except Exception as exc:  # noqa: BLE001
        status = S.INPUTS_NOT_FOUND if (req.get("spec") is None and is_input_error(exc)) else S.EAGER_FAILED
        raise CaseEnded(status, Stage.EAGER, exc) from None
    if not parity_mod.tensors(out1):
        raise CaseEnded(S.EAGER_FAILED, Stage.EAGER, TypeError(
            f"forward returned no tensor (got {type(out1).__name__}); nothing to capture or compare"))
    nondeterministic = not parity_mod.outputs_equal(out1, out2)
    rng_dependent = not parity_mod.outputs_equal(out1, out3)
    result.update(nondeterministic=nondeterministic, rng_dependent=rng_dependent)
    if req.get("stop_after") == "eager":
        result["status"] = "runnable"  # yield benchmarks only; never stored as a run result
        return
    try:
        m64 = copy.deepcopy(module).double()
        ref64 = _call(m64, parity_mod.to_fp64(args), parity_mod.to_fp64(kwargs), seed, no_grad)
        del m64
    except Exception:  # noqa: BLE001 - modules that cannot run in fp64 compare without it
        ref64 = None

    stage(Stage.CAPTURE)
    fullgraph, dynamic = bool(req.get("fullgraph")), req.get("dynamic")
    try:
        with torch.no_grad() if no_grad else _nullctx():
            info = torch_api.explain(module, args, kwargs)
    except Exception as exc:  # noqa: BLE001
        raise CaseEnded(S.CAPTURE_FAILED, Stage.CAPTURE, exc) from None
    result.update(graph_count=info.graph_count, graph_break_count=info.graph_break_count,
                  break_reasons=info.break_reasons, break_ids=info.break_ids,
                  op_count=info.op_count, ops_per_graph=info.ops_per_graph,
                  guard_count=info.guard_count, capture_s=round(info.capture_s, 4))
    if info.graph_count == 0:
        why = info.skip_reasons[0] if info.skip_reasons else "forward has no operation Dynamo could trace"
        result.update(break_reasons=info.skip_reasons, break_ids=info.skip_ids)
        raise CaseEnded(S.CAPTURE_FAILED, Stage.CAPTURE, CaptureSkipped(
            f"Dynamo captured no graph; the frame ran eagerly: {why}"
            + (f" [{info.skip_ids[0]}]" if info.skip_ids and info.skip_ids[0] else "")))
    if fullgraph and info.graph_break_count:
        raise CaseEnded(S.CAPTURE_FAILED, Stage.CAPTURE,
                        RuntimeError(f"fullgraph=True but {info.graph_break_count} graph break(s): "
                                     f"{info.break_reasons[0] if info.break_reasons else ''}"))
    try:
        torch_api.reset()
        hooked = torch.compile(module, backend="eager", fullgraph=fullgraph, dynamic=dynamic)
        _call(hooked, args, kwargs, seed, no_grad)
        frames_after_first = torch_api.frames_compiled()
        _call(hooked, args, kwargs, seed, no_grad)
        result["recompiles"] = torch_api.frames_compiled() - frames_after_first
        eager_ms, hook_ms = interleaved_ms(
            [lambda: _call(module, args, kwargs, seed, no_grad),
             lambda: _call(hooked, args, kwargs, seed, no_grad)], device=device)
        result.update(eager_ms=eager_ms, hook_ms=hook_ms, hook_overhead_us=(hook_ms - eager_ms) * 1000)
    except Exception as exc:  # noqa: BLE001
        raise CaseEnded(S.CAPTURE_FAILED, Stage.CAPTURE, exc) from None

    stage(Stage.COMPILE)
    backend = req.get("backend", "inductor")
    torch_api.reset()
    compiled = torch.compile(module, backend=backend, fullgraph=fullgraph, dynamic=dynamic,
                             mode=req.get("compile_mode") or None)
    start = time.perf_counter()
    try:
        out_c = _call(compiled, args, kwargs, seed, no_grad)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    except Exception as exc:  # noqa: BLE001
        status = S.COMPILE_FAILED if _is_compile_error(exc) else S.RUN_FAILED
        raise CaseEnded(status, Stage.COMPILE if status is S.COMPILE_FAILED else Stage.RUN, exc) from None
    result["compile_s"] = round(time.perf_counter() - start, 4)
    hits, misses = torch_api.compile_cache_hits()
    result["compile_cache"] = "hit" if hits and not misses else ("miss" if misses and not hits else
                                                                  ("mixed" if hits else "none"))

    stage(Stage.RUN)
    try:
        out_c = _call(compiled, args, kwargs, seed, no_grad)
    except Exception as exc:  # noqa: BLE001
        raise CaseEnded(S.RUN_FAILED, Stage.RUN, exc) from None

    stage(Stage.PARITY)
    p = parity_mod.compare(out1, out_c, ref64, tol=float(req.get("tol", parity_mod.DEFAULT_TOL)))
    result.update(max_abs_err=p.max_abs_err, rmse=p.rmse, cosine=p.cosine, atol=p.tol, rtol=p.tol)
    try:
        eager_ms2, compiled_ms = interleaved_ms(
            [lambda: _call(module, args, kwargs, seed, no_grad),
             lambda: _call(compiled, args, kwargs, seed, no_grad)], device=device)
        result.update(compiled_ms=compiled_ms, speedup=eager_ms2 / compiled_ms if compiled_ms > 0 else None)
    except Exception as exc:  # noqa: BLE001
        raise CaseEnded(S.RUN_FAILED, Stage.RUN, exc) from None
    if nondeterministic or rng_dependent:
        result["status"] = S.EAGER_NONDETERMINISTIC.value
        return
    if not p.ok:
        raise CaseEnded(S.PARITY_FAILED, Stage.PARITY, AssertionError(
            f"compiled output differs from eager beyond tol={p.tol:g}: max_abs_err={p.max_abs_err}, "
            f"rmse={p.rmse}, cosine={p.cosine}"))
    result["status"] = S.PASS.value


class _nullctx:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _is_compile_error(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    return bool(names & {"BackendCompilerFailed", "InductorError", "LoweringException",
                         "CppCompileError", "CompilationError", "Unsupported", "TorchRuntimeError",
                         "UserError", "InternalTorchDynamoError"})


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
