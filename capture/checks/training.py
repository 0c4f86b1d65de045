"""The training funnel: forward + scalar loss + backward, eager vs torch.compile.

As PyTorch's benchmarks/dynamo harness validates training: train mode, grad
enabled, the loss reduced from the outputs by `reduce_to_scalar_loss`, one
backward, then `collect_results` (outputs, loss, every parameter's gradient,
buffers) compared by `same` against an fp64 reference. Each side starts from
its own deep copy of the freshly built module, so both see the same weights
and buffers. Statuses, and the step that decides each:

  not trainable (no parameters / no differentiable loss)  eager_failed, stage backward, reason
  eager forward or backward raises                          eager_failed, stage eager / backward
  compiled forward fails to compile or run                  compile_failed / run_failed (compile, run)
  Dynamo captured nothing                                   capture_failed, stage capture
  compiled backward fails (or only the grad-mode compile)   compile_failed / run_failed, stage backward
  outputs or loss differ                                    parity_failed, stage parity
  a gradient or buffer differs                              parity_failed, stage backward
  eager differs for the same seed (nondeterministic)        eager_nondeterministic (never a pass),
                                                            decided after the compiled step, no parity
  eager depends on the RNG (dropout)                        parity decides, under identical RNG on both
                                                            sides (same seeds, fallback_random); flagged
"""
from __future__ import annotations

import copy
import time
from typing import Any

import torch

from backend import parity as parity_mod
from backend.timing import interleaved_ms
from capture import torch_api
from capture.checks import steps
from capture.checks.steps import Case, CaseEnded, counted_graphs, is_compile_error
from db.status import CaseStatus as S, Stage


class NotTrainable(Exception):
    """The module cannot be trained as it is: no parameters, or no loss with a gradient."""


def step(c: Case, module: Any, seed: int | None = None, args: Any = None, kwargs: Any = None,
         on_forward: Any = None) -> tuple[Any, torch.Tensor, list[Any]]:
    """One training iteration without an optimizer: zero grads, forward, loss, backward."""
    target = getattr(module, "_orig_mod", module)
    for p in target.parameters():
        p.grad = None
    torch.manual_seed(c.seed if seed is None else seed)
    with torch.enable_grad():
        out = module(*(c.args if args is None else args), **(c.kwargs if kwargs is None else kwargs))
        loss = torch_api.scalar_loss(out)
        if on_forward is not None:
            on_forward(loss)
        loss.backward()
    return out, loss, _results(target, out, loss)


def _results(module: torch.nn.Module, out: Any, loss: torch.Tensor) -> list[Any]:
    """torch's collect_results less the parameters: with no optimizer step they are the
    weights both sides started from, so comparing them only costs time."""
    results = torch_api.collect_results(module, out, loss, [])
    results[3] = {}
    return results


def _eager_step(c: Case, module: torch.nn.Module, seed: int) -> list[Any]:
    """An eager iteration; what fails here is the module's, not the compiler's."""
    c.announce(Stage.EAGER)
    for p in module.parameters():
        p.grad = None
    try:
        torch.manual_seed(seed)
        with torch.enable_grad():
            out = module(*c.args, **c.kwargs)
    except Exception as exc:  # noqa: BLE001
        raise CaseEnded(S.EAGER_FAILED, Stage.EAGER, exc) from None
    c.announce(Stage.BACKWARD)
    try:
        loss = torch_api.scalar_loss(out)
    except Exception as exc:  # noqa: BLE001
        raise CaseEnded(S.EAGER_FAILED, Stage.BACKWARD, NotTrainable(
            f"outputs cannot be reduced to a scalar loss: {type(exc).__name__}: {exc}"), reason="no_loss") from None
    if not loss.requires_grad:
        raise CaseEnded(S.EAGER_FAILED, Stage.BACKWARD, NotTrainable(
            "the loss reduced from the outputs has no gradient (no floating output depends on a parameter)"),
            reason="no_loss")
    try:
        loss.backward()
    except Exception as exc:  # noqa: BLE001
        raise CaseEnded(S.EAGER_FAILED, Stage.BACKWARD, exc) from None
    return _results(module, out, loss)


def run(c: Case) -> None:
    """The training funnel after load and build (see the module docstring)."""
    base = c.module
    base.train()
    if not any(p.requires_grad for p in base.parameters()):
        raise CaseEnded(S.EAGER_FAILED, Stage.BACKWARD, NotTrainable(
            "module has no trainable parameters: nothing to train"), reason="no_parameters")
    fresh = copy.deepcopy(base)  # untouched weights and buffers for every side
    with c.timed("eager"):
        eager_model = copy.deepcopy(fresh)
        ref = _eager_step(c, eager_model, c.seed)
        again = _eager_step(c, copy.deepcopy(fresh), c.seed)
        reseeded = _eager_step(c, copy.deepcopy(fresh), c.seed + 1)
    c.result.update(nondeterministic=not parity_mod.outputs_equal(ref, again),
                    rng_dependent=not parity_mod.outputs_equal(ref, reseeded))

    compiled_model = copy.deepcopy(fresh)
    compiled = _compile_forward(c, compiled_model)
    results, out_c = _compiled_backward(c, compiled, compiled_model, fresh)
    if steps.nondeterministic(c):   # same seed, other gradients: nothing can judge the compiled side
        return

    c.announce(Stage.PARITY)
    with c.timed("parity"):
        tol = float(c.req.get("tol", parity_mod.DEFAULT_TOL))
        reference = _fp64_reference(c, fresh)
        p = parity_mod.compare(ref, results, tol=tol, reference=reference)
        c.result.update(max_abs_err=p.max_abs_err, rmse=p.rmse, cosine=p.cosine, atol=p.tol, rtol=p.tol)
        where = None if p.ok else _first_difference(ref, results, reference, tol)
    with c.timed("timing"):
        try:
            eager_ms, compiled_ms = interleaved_ms(
                [lambda: step(c, eager_model), lambda: step(c, compiled)], device=c.device)
        except Exception as exc:  # noqa: BLE001
            raise CaseEnded(S.RUN_FAILED, Stage.BACKWARD, exc) from None
    c.result.update(eager_ms=eager_ms, compiled_ms=compiled_ms,
                    speedup=eager_ms / compiled_ms if compiled_ms > 0 else None)
    # rng_dependent (dropout): both sides drew the same numbers (same seeds, fallback_random), so
    # parity is the verdict and the flag stays on the result
    if where is not None:
        part, stage = where
        raise CaseEnded(S.PARITY_FAILED, stage, AssertionError(
            f"compiled training differs from eager beyond tol={p.tol:g} in {part}: "
            f"max_abs_err={p.max_abs_err}, rmse={p.rmse}, cosine={p.cosine}"))
    c.result["status"] = S.PASS.value


def _compile_forward(c: Case, model: torch.nn.Module) -> Any:
    """torch.compile and the first grad-mode forward: Dynamo, AOTAutograd's joint graph, the forward."""
    c.announce(Stage.COMPILE)
    with c.timed("compile"):
        torch_api.reset()
        compiled = torch.compile(model, backend=c.req.get("backend", "inductor"), fullgraph=c.fullgraph,
                                 dynamic=c.req.get("dynamic"), mode=c.req.get("compile_mode") or None)
        start = time.perf_counter()
        try:
            torch.manual_seed(c.seed)
            with torch.enable_grad():
                out = compiled(*c.args, **c.kwargs)
        except Exception as exc:  # noqa: BLE001
            if not is_compile_error(exc):
                raise CaseEnded(S.RUN_FAILED, Stage.RUN, exc) from None
            # The joint graph is traced here; if the same forward compiles
            # without grad, what fails is the backward's part of it.
            stage = Stage.BACKWARD if _compiles_without_grad(c, model) else Stage.COMPILE
            raise CaseEnded(S.COMPILE_FAILED, stage, exc) from None
        c.result["compile_s"] = round(time.perf_counter() - start, 4)
    counted_graphs(c)
    del out
    return compiled


def _compiles_without_grad(c: Case, model: torch.nn.Module) -> bool:
    """Whether the forward alone (no_grad: no joint graph) compiles: asked only after a failure."""
    try:
        torch_api.reset()
        probe = torch.compile(copy.deepcopy(model), backend=c.req.get("backend", "inductor"))
        with torch.no_grad():
            probe(*c.args, **c.kwargs)
        return True
    except Exception:  # noqa: BLE001
        return False


def _compiled_backward(c: Case, compiled: Any, model: torch.nn.Module,
                       fresh: torch.nn.Module) -> tuple[list[Any], Any]:
    """The first compiled iteration from fresh weights: its backward compiles lazily, timed."""
    c.announce(Stage.BACKWARD)
    model.load_state_dict(fresh.state_dict())  # the compile call above moved train-mode buffers
    graphs: list[int] = []
    timings: dict[str, float] = {}
    start = time.perf_counter()

    def before_backward(loss: torch.Tensor) -> None:
        graphs.append(torch_api.backward_graphs(loss))
        timings["forward"] = time.perf_counter() - start

    with c.timed("backward"):
        try:
            out, _, results = step(c, compiled, on_forward=before_backward)
        except Exception as exc:  # noqa: BLE001
            status = S.COMPILE_FAILED if is_compile_error(exc) else S.RUN_FAILED
            raise CaseEnded(status, Stage.BACKWARD, exc) from None
    total = time.perf_counter() - start
    c.result.update(backward_graphs=graphs[0] if graphs else 0,
                    backward_compile_s=round(total - timings.get("forward", 0.0), 4))
    return results, out


def _fp64_reference(c: Case, fresh: torch.nn.Module) -> Any:
    """A lazy fp64 training iteration (None when the module cannot run in fp64)."""
    cache: dict[str, Any] = {}

    def compute() -> Any:
        if "ref" not in cache:
            with c.timed("reference"):
                try:
                    m64 = copy.deepcopy(fresh).double()
                    _, _, cache["ref"] = step(c, m64, args=parity_mod.to_fp64(c.args),
                                              kwargs=parity_mod.to_fp64(c.kwargs))
                except Exception:  # noqa: BLE001
                    cache["ref"] = None
        return cache["ref"]
    return compute


def _first_difference(ref: list[Any], res: list[Any], reference: Any, tol: float) -> tuple[str, Stage]:
    """Name the first part that differs: outputs/loss (stage parity) or a gradient/buffer (backward)."""
    fp64 = reference()
    names = ["outputs", "loss"]
    for i, name in enumerate(names):
        if not _same(ref[i], res[i], fp64[i] if fp64 else None, tol):
            return name, Stage.PARITY
    for i, kind in ((2, "gradient"), (4, "buffer")):
        for key in ref[i]:
            if not _same(ref[i][key], res[i].get(key), fp64[i].get(key) if fp64 else None, tol):
                return f"{kind} {key}", Stage.BACKWARD
    return "results", Stage.BACKWARD


def _same(a: Any, b: Any, fp64: Any, tol: float) -> bool:
    try:
        return parity_mod.same(a, b, fp64, tol, quiet=True)
    except Exception:  # noqa: BLE001
        return False
