"""The named steps of a case, shared by the inference, training and dynamic paths.

Each step announces the worker stage it runs in (so a crash or timeout is
recorded there), adds its seconds to `result["stage_s"]`, and ends the case by
raising `CaseEnded(status, stage, exc)` when its check fails. Every status a
step can give is raised in that step, nowhere else; capture/checks/funnels.py composes
the steps into the funnels. Steps read and write one `Case` object.
"""
from __future__ import annotations

import copy
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch

from backend import parity as parity_mod
from backend.timing import interleaved_ms, paired_overhead
from capture import torch_api
from capture.deduce.search import DeduceFailed, deduce, is_input_error
from capture.loading import stub_use
from capture.loading.importer import LoadError, load_class
from capture.deduce.replay import build_inputs, build_module
from db.status import CaseStatus as S, Stage

StageFn = Callable[[str], None]


class CaseEnded(Exception):
    """A step's verdict: the case ends here with this status, in this stage."""

    def __init__(self, status: S, stage: Stage, exc: BaseException | None = None, **fields: Any):
        super().__init__(status.value)
        self.status, self.stage, self.exc, self.fields = status, stage, exc, fields


class CaseFailed(Exception):
    """A step's failing verdict, raised out of `run_case(..., reraise=True)` (repro scripts).

    Raised from the step's own exception, so the traceback a repro prints ends
    in the very error the crawl recorded; `result` is what was measured so far.
    """

    def __init__(self, status: str, stage: str, exc: BaseException, result: dict[str, Any]):
        super().__init__(f"{status} at {stage}: {type(exc).__name__}: {exc}")
        self.status, self.stage, self.exc, self.result = status, stage, exc, result


class CaptureSkipped(Exception):
    """Dynamo captured no graph at all: the module ran eagerly under torch.compile."""


def move(value: Any, device: str) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(move(v, device) for v in value)
    if isinstance(value, dict):
        return {k: move(v, device) for k, v in value.items()}
    return value


@dataclass
class Case:
    """Everything the steps of one case share: the request, the result so far, the objects."""

    req: dict[str, Any]
    result: dict[str, Any]
    on_stage: StageFn = lambda s: None
    on_progress: Callable[[dict[str, Any]], None] = lambda r: None
    cls: type | None = None
    spec: dict[str, Any] | None = None
    module: torch.nn.Module | None = None
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    eager_out: Any = None
    hooked: Any = None
    compiled: Any = None
    compiled_out: Any = None
    parity: parity_mod.Parity | None = None
    _ref64: Any = None
    _ref64_done: bool = False
    _inner: list[float] = field(default_factory=list)

    @property
    def device(self) -> str:
        return self.req.get("device", "cpu")

    @property
    def seed(self) -> int:
        return int(self.req.get("seed", 0))

    @property
    def no_grad(self) -> bool:
        return bool((self.spec or {}).get("no_grad", True))

    @property
    def fullgraph(self) -> bool:
        return bool(self.req.get("fullgraph"))

    def announce(self, stage: Stage) -> None:
        """Enter a stage: the worker learns where the case is, and what it measured so far
        (a case killed in this stage keeps that: capture/workers/worker.py)."""
        self.checkpoint()
        self.result["_stage"] = stage.value
        self.on_stage(stage.value)

    def checkpoint(self) -> None:
        """Send the result so far (a dynamic run calls it after every size)."""
        self.on_progress(self.result)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Add the block's wall seconds to result["stage_s"][name], however it ends.

        A timed block inside another (the fp64 reference a parity check asks
        for) is counted once, under its own name: stages add up to the wall.
        """
        start = time.perf_counter()
        self._inner.append(0.0)
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            own = elapsed - self._inner.pop()
            if self._inner:
                self._inner[-1] += elapsed
            spent = self.result.setdefault("stage_s", {})
            spent[name] = round(spent.get(name, 0.0) + own, 4)

    def call(self, fn: Any, args: list[Any] | None = None, kwargs: dict[str, Any] | None = None,
             seed: int | None = None) -> Any:
        """One forward with the RNG reseeded, under no_grad when the spec says so."""
        torch.manual_seed(self.seed if seed is None else seed)
        with torch.no_grad() if self.no_grad else nullcontext():
            return fn(*(self.args if args is None else args), **(self.kwargs if kwargs is None else kwargs))

    def reference(self) -> Any:
        """The fp64 run, computed once and only when a verdict needs it; None if fp64 fails."""
        if not self._ref64_done:
            self._ref64_done = True
            with self.timed("reference"):
                try:
                    m64 = copy.deepcopy(self.module).double()
                    self._ref64 = self.call(m64, parity_mod.to_fp64(self.args), parity_mod.to_fp64(self.kwargs))
                    del m64
                except Exception:  # noqa: BLE001 - modules that cannot run in fp64 compare without it
                    self._ref64 = None
        return self._ref64


# -- load and build -------------------------------------------------------------

def load(c: Case) -> None:
    """Import the class from the checkout (stubbing missing packages)."""
    c.announce(Stage.IMPORT)
    with c.timed("import"):
        try:
            c.cls, stubs = load_class(c.req["checkout"], c.req["path"], c.req["qualname"], c.req.get("stubs"))
        except LoadError as exc:
            fields = {"stubs": sorted(set(c.result["stubs"]) | ({exc.missing} if exc.missing else set()))}
            raise CaseEnded(S.IMPORT_FAILED, Stage.IMPORT, exc.cause or exc, **fields) from None
    c.result["stubs"] = stubs
    stub_use.arm()  # from here on, a stand-in the case touches is one it depends on (eager records which)
    if not (isinstance(c.cls, type) and issubclass(c.cls, torch.nn.Module)):
        raise CaseEnded(S.INIT_FAILED, Stage.INIT, TypeError(f"{c.req['qualname']} is not an nn.Module subclass"))


def build(c: Case) -> None:
    """Construct the module and its inputs: replay the stored spec, or deduce one."""
    c.spec = c.req.get("spec")
    # deduction is stage `inputs`: the worker gives it its own budget (capture/workers/worker.py)
    c.announce(Stage.INIT if c.spec is not None else Stage.INPUTS)
    if c.spec is None:
        with c.timed("deduce"):
            try:
                found = deduce(c.cls, seed=c.seed, mode=c.req.get("mode", "eval"),
                               budget_s=float(c.req.get("deduce_budget_s", 60)))
            except DeduceFailed as exc:
                status = {"init": S.INIT_FAILED, "inputs": S.INPUTS_NOT_FOUND, "eager": S.EAGER_FAILED}[exc.stage]
                err = exc.error or RuntimeError("no candidate inputs")
                raise CaseEnded(status, Stage(exc.stage), err, found_by=exc.found_by, tries=exc.tries) from None
        c.spec, c.module = found.spec, found.module
        c.result.update(spec=c.spec, found_by=found.found_by)
    else:
        with c.timed("init"):
            try:
                c.module = build_module(c.cls, c.spec)
            except Exception as exc:  # noqa: BLE001
                raise CaseEnded(S.INIT_FAILED, Stage.INIT, exc) from None
    c.module = to_device(c.module, c.device)
    args, kwargs = build_inputs(c.spec)
    c.args, c.kwargs = move(args, c.device), move(kwargs, c.device)


def to_device(module: torch.nn.Module, device: str) -> torch.nn.Module:
    """The module on `device`. Built on the cpu already, a cpu case is left as it is: a project's own
    `to()` override (`self.action_scale.to(device)` on a float) is project code the case never
    asked for; where a move is needed and fails, the module is not built (init_failed)."""
    tensors = [*module.parameters(), *module.buffers()]
    if all(t.device == torch.device(device) for t in tensors):
        return module
    try:
        return module.to(device)
    except Exception as exc:  # noqa: BLE001 - the project's to() failing is the case's status
        raise CaseEnded(S.INIT_FAILED, Stage.INIT, exc) from None


# -- eager ------------------------------------------------------------------------

def eager(c: Case) -> None:
    """Two runs with one seed and one reseeded: must run, return tensors, and be deterministic (flagged)."""
    c.announce(Stage.EAGER)
    with c.timed("eager"):
        try:
            out1 = c.call(c.module)
            out2 = c.call(c.module)
            out3 = c.call(c.module, seed=c.seed + 1)
        except Exception as exc:  # noqa: BLE001
            status = S.INPUTS_NOT_FOUND if (c.req.get("spec") is None and is_input_error(exc)) else S.EAGER_FAILED
            raise CaseEnded(status, Stage.EAGER, exc) from None
    if not parity_mod.tensors(out1):
        raise CaseEnded(S.EAGER_FAILED, Stage.EAGER, TypeError(
            f"forward returned no tensor (got {type(out1).__name__}); nothing to capture or compare"))
    c.eager_out = out1
    c.result["stubs_used"] = stub_use.used(c.result.get("stubs") or [], stub_use.disarm())
    c.result.update(nondeterministic=not parity_mod.outputs_equal(out1, out2),
                    rng_dependent=not parity_mod.outputs_equal(out1, out3))
    if c.module.training:
        c.reference()  # train-mode buffers (BatchNorm stats) move with every later run: take fp64 now


# -- capture: one Dynamo trace that also serves as the frame-hook measurement --------

def one_trace(c: Case) -> bool:
    """Capture and compile in one Dynamo trace; False where it is not used or did not finish.

    The counting backend compiles each graph with the run's backend and keeps
    the graph as captured beside it (torch_api.CountingCapture with a
    compiler): the capture figures, the frame-hook measurement (the same guards
    and frames running the captured graphs) and the compiled module come from
    one trace, where `capture` + `compile` trace the module twice. Where the
    first call raises, nothing of it is kept: the two-trace steps run from a
    reset Dynamo and decide the status, so a failing case ends exactly as it
    would have (capture_failed from the eager-backend trace, compile_failed or
    run_failed from the compile). fullgraph and a compile mode keep two traces
    (torch.compile's own nopython and mode settings are what they test).
    """
    if not c.req.get("single_trace", True) or c.fullgraph or c.req.get("compile_mode"):
        c.result["traces"] = 2
        return False
    c.result["traces"] = 1
    c.announce(Stage.COMPILE)
    with c.timed("compile"):
        torch_api.reset()
        metrics_before = torch_api.compile_metrics_snapshot()
        compiler = torch_api.compile_backend(c.req.get("backend", "inductor"), None, c.req.get("dynamic"))
        start, cpu_start = time.perf_counter(), process_cpu_s()
        try:
            trace = torch_api.CountingCapture(c.module, dynamic=c.req.get("dynamic"), compiler=compiler,
                                              on_graph=lambda info: counted_so_far(c, info))
            c.compiled_out = c.call(trace.compiled)
            if c.device.startswith("cuda"):
                torch.cuda.synchronize()
        except Exception:  # noqa: BLE001 - the two-trace steps say what failed, and where
            c.compiled_out = None
            torch_api.reset()
            for key in COUNTED_SO_FAR:     # the two-trace steps measure them again, or leave them unset
                c.result.pop(key, None)
            c.result["traces"] = 2
            return False
        c.result["compile_s"] = round(time.perf_counter() - start, 4)
        c.result["compile_cpu_s"] = round(process_cpu_s() - cpu_start, 4)
        phases = c.result["compile_phases"] = torch_api.compile_phases(metrics_before)
    note_cache(c)
    info = trace.info()
    # the capture step's trace time was its first eager-backend call; here it is Dynamo's own share
    info.capture_s = phases.get("dynamo", 0.0)
    c.announce(Stage.CAPTURE)
    with c.timed("capture"):
        try:
            captured(c, info)
        except CaseEnded:   # ends at capture as with two traces: no compile figures for a capture failure
            for key in ("compile_s", "compile_cpu_s", "compile_phases", "compile_cache"):
                c.result.pop(key, None)
            raise
        # the second call runs what the first ran (the compiled graphs): a graph's output that
        # feeds Python (an .item() used as a size) must not differ by version and look like a recompile
        count_recompiles(c, trace.run)
    c.hooked, c.compiled = trace.hooked, trace.run
    timed_hook(c)
    return True


COUNTED_SO_FAR = ("graph_count", "graph_break_count", "break_reasons", "break_ids", "op_count", "ops_per_graph")


def counted_so_far(c: Case, info: torch_api.CaptureInfo) -> None:
    """Send the graphs counted before the compiler runs, so a case killed inside its compile (a CPU
    budget, a crash) keeps the capture figures traced until then, as a two-trace case keeps them."""
    c.result.update({key: getattr(info, key) for key in COUNTED_SO_FAR})
    c.checkpoint()


def captured(c: Case, info: torch_api.CaptureInfo) -> None:
    """Record what one trace captured; no graph, or a break under fullgraph, ends the case."""
    c.result.update({key: getattr(info, key) for key in COUNTED_SO_FAR},
                    guard_count=info.guard_count, capture_s=round(info.capture_s, 4))
    if info.graph_count == 0:
        no_graph(c, info.skip_reasons, info.skip_ids)
    if c.fullgraph and info.graph_break_count:
        raise CaseEnded(S.CAPTURE_FAILED, Stage.CAPTURE,
                        RuntimeError(f"fullgraph=True but {info.graph_break_count} graph break(s): "
                                     f"{info.break_reasons[0] if info.break_reasons else ''}"))


def capture(c: Case) -> None:
    """Trace once with a counting eager backend: graphs, breaks, guards, ops, recompiles, hook cost."""
    c.announce(Stage.CAPTURE)
    with c.timed("capture"):
        try:
            trace = torch_api.CountingCapture(c.module, dynamic=c.req.get("dynamic"))
            c.call(trace.compiled)
            info = trace.info()
        except Exception as exc:  # noqa: BLE001
            raise CaseEnded(S.CAPTURE_FAILED, Stage.CAPTURE, exc) from None
        captured(c, info)
        count_recompiles(c, trace.compiled)
    c.hooked = trace.compiled
    timed_hook(c)


def count_recompiles(c: Case, second_call: Any) -> None:
    """A second call with the same inputs: the frames Dynamo compiles again are the recompiles."""
    try:
        frames_after_first = torch_api.frames_compiled()
        c.call(second_call)
        c.result["recompiles"] = torch_api.frames_compiled() - frames_after_first
    except Exception as exc:  # noqa: BLE001
        raise CaseEnded(S.CAPTURE_FAILED, Stage.CAPTURE, exc) from None


def timed_hook(c: Case) -> None:
    """The hook measurement as its own stage; a repro's backend ladder skips it (verdicts only)."""
    if c.req.get("skip_timing"):
        return
    with c.timed("hook"):
        try:
            hook_timing(c)
        except Exception as exc:  # noqa: BLE001
            raise CaseEnded(S.CAPTURE_FAILED, Stage.CAPTURE, exc) from None


def hook_timing(c: Case) -> None:
    """Cost of Dynamo's frame hook: the eager-backend module against plain eager, in paired
    repeats of the thread's CPU time, with a 95% interval (backend/timing.py)."""
    args, kwargs = c.args, c.kwargs
    with torch.no_grad() if c.no_grad else nullcontext():   # no reseeding per call: it costs more than eager
        # Precision to 10% of eager (or 2 µs) within 1 s of CPU: enough to resolve the hook's
        # cost in nearly every case, and it keeps this stage a small share of a case's wall.
        o = paired_overhead(lambda: c.module(*args, **kwargs), lambda: c.hooked(*args, **kwargs), device=c.device,
                            budget_s=1.0, target_rel=0.10)
    c.result.update(eager_ms=o.base_us / 1000, hook_ms=o.treated_us / 1000, hook_overhead_us=o.overhead_us,
                    hook_ratio=o.ratio, hook_overhead_ci_us=o.ci_half_width_us, hook_samples=o.n)


# -- compile, run, parity, timing ------------------------------------------------------

def compile(c: Case) -> None:  # noqa: A001 - the stage's name
    """The backend's first call: Dynamo again, then AOTAutograd + the backend; times the compile."""
    c.announce(Stage.COMPILE)
    with c.timed("compile"):
        torch_api.reset()
        metrics_before = torch_api.compile_metrics_snapshot()   # after the reset: it may clear them
        c.compiled = torch.compile(c.module, backend=c.req.get("backend", "inductor"), fullgraph=c.fullgraph,
                                   dynamic=c.req.get("dynamic"), mode=c.req.get("compile_mode") or None)
        start, cpu_start = time.perf_counter(), process_cpu_s()
        try:
            c.compiled_out = c.call(c.compiled)
            if c.device.startswith("cuda"):
                torch.cuda.synchronize()
        except Exception as exc:  # noqa: BLE001
            status = S.COMPILE_FAILED if is_compile_error(exc) else S.RUN_FAILED
            raise CaseEnded(status, Stage.COMPILE if status is S.COMPILE_FAILED else Stage.RUN, exc) from None
        c.result["compile_s"] = round(time.perf_counter() - start, 4)
        # CPU seconds (this process + its waited-for children: gcc) hardly move with machine load
        c.result["compile_cpu_s"] = round(process_cpu_s() - cpu_start, 4)
        c.result["compile_phases"] = torch_api.compile_phases(metrics_before)   # torch's own split
    note_cache(c)


def note_cache(c: Case) -> None:
    """Whether the compile found its graphs in Inductor's FX graph cache (compile times compare only so)."""
    hits, misses = torch_api.compile_cache_hits()
    c.result["compile_cache"] = "hit" if hits and not misses else ("miss" if misses and not hits else
                                                                    ("mixed" if hits else "none"))


def no_graph(c: Case, skip_reasons: list[str], skip_ids: list[str]) -> None:
    """Dynamo captured no graph: the one verdict every check reaches the same way.

    Nothing skipped and nothing captured means the forward does no tensor
    operation (`return x`, a dropout in eval mode): not Dynamo's failure
    (reason no_tensor_ops; db.status counts it apart). Otherwise Dynamo
    skipped the frame, and says why.
    """
    if not skip_reasons:
        c.result["reason"] = "no_tensor_ops"
        raise CaseEnded(S.CAPTURE_FAILED, Stage.CAPTURE, CaptureSkipped(
            "forward does no tensor operation: Dynamo has nothing to capture"))
    c.result.update(break_reasons=skip_reasons, break_ids=skip_ids)
    raise CaseEnded(S.CAPTURE_FAILED, Stage.CAPTURE, CaptureSkipped(
        f"Dynamo captured no graph; the frame ran eagerly: {skip_reasons[0]}"
        + (f" [{skip_ids[0]}]" if skip_ids and skip_ids[0] else "")))


def counted_graphs(c: Case) -> None:
    """Graphs and breaks of the compile just made, from torch's counters (no extra trace).

    For the training and dynamic funnels, which skip the capture step; graph
    count 0 means Dynamo skipped the frame, as the capture step reports it.
    """
    stats = torch_api.graph_stats()
    c.result.update(graph_count=stats["graph_count"], graph_break_count=max(0, stats["graph_count"] - 1),
                    break_reasons=stats["break_reasons"], break_ids=stats["break_ids"])
    if stats["graph_count"] == 0:
        no_graph(c, stats["skip_reasons"], stats["skip_ids"])


def run(c: Case) -> None:
    """A second compiled call: what the compiled module returns once warm."""
    c.announce(Stage.RUN)
    with c.timed("run"):
        try:
            c.compiled_out = c.call(c.compiled)
        except Exception as exc:  # noqa: BLE001
            raise CaseEnded(S.RUN_FAILED, Stage.RUN, exc) from None


def parity(c: Case) -> None:
    """Compiled vs eager, with the fp64 reference computed only when allclose alone rejects."""
    c.announce(Stage.PARITY)
    with c.timed("parity"):
        c.parity = p = parity_mod.compare(c.eager_out, c.compiled_out, tol=float(c.req.get("tol", parity_mod.DEFAULT_TOL)),
                                          reference=c.reference)
    c.result.update(max_abs_err=p.max_abs_err, rmse=p.rmse, cosine=p.cosine, atol=p.tol, rtol=p.tol)


def timing(c: Case) -> None:
    """Eager vs compiled latency, interleaved; a compiled run that fails here is a run failure."""
    if c.req.get("skip_timing"):
        return
    with c.timed("timing"):
        try:
            eager_ms, compiled_ms = interleaved_ms([lambda: c.call(c.module), lambda: c.call(c.compiled)],
                                                   device=c.device)
        except Exception as exc:  # noqa: BLE001
            raise CaseEnded(S.RUN_FAILED, Stage.RUN, exc) from None
    c.result.update(compiled_ms=compiled_ms, speedup=eager_ms / compiled_ms if compiled_ms > 0 else None)


def nondeterministic(c: Case) -> bool:
    """Eager gives another output for the same seed: no comparison can judge the compiled side.

    Asked right after the compile (so a compiler failure is still found); the
    case then ends eager_nondeterministic without parity or timing, the
    cheapest point that keeps it honest. An output that changes only with the
    seed (rng_dependent: dropout, sampling) is not this: the RNG is identical on
    both sides (the same seeds, Inductor's fallback_random), so parity judges
    it and the flag stays on the result.
    """
    if c.result.get("nondeterministic"):
        c.result["status"] = S.EAGER_NONDETERMINISTIC.value
        return True
    return False


def verdict(c: Case) -> None:
    """The last word: nondeterministic eager is never a pass; then parity decides."""
    if nondeterministic(c):
        return
    p = c.parity
    if p is not None and not p.ok:
        raise CaseEnded(S.PARITY_FAILED, Stage.PARITY, AssertionError(
            f"compiled output differs from eager beyond tol={p.tol:g}: max_abs_err={p.max_abs_err}, "
            f"rmse={p.rmse}, cosine={p.cosine}"))
    c.result["status"] = S.PASS.value


def process_cpu_s() -> float:
    """User + system CPU seconds of this process and its finished children (gcc runs)."""
    import resource
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


COMPILE_ERRORS = {"BackendCompilerFailed", "InductorError", "LoweringException", "CppCompileError",
                  "CompilationError", "Unsupported", "TorchRuntimeError", "UserError", "InternalTorchDynamoError"}


def is_compile_error(exc: BaseException) -> bool:
    return bool({type(e).__name__ for e in chain(exc)} & COMPILE_ERRORS)


def chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__
