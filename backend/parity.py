"""Numeric parity of compiled vs eager output, judged against an fp64 reference.

Why fp64: fp32 eager is itself only one rounding of the true result; a
compiled kernel that reorders a reduction can differ from it and still be as
accurate. torch's `same(..., fp64_ref=...)` accepts a result no further from
the fp64 reference than eager is (times a small multiplier).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import types
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch.utils._pytree import tree_leaves

DEFAULT_TOL = 1e-3


@dataclass
class Parity:
    ok: bool
    max_abs_err: float | None
    rmse: float | None
    cosine: float | None
    tol: float


_ATOMS = (torch.Tensor, int, float, complex, bool, str, bytes, type(None), torch.Size, torch.dtype, torch.device)
_NOT_RESULTS = (torch.nn.Module, type, types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                types.ModuleType, functools.partial)
MAX_DEPTH = 4


def _result_fields(value: Any) -> dict[str, Any] | None:
    """The attributes of a result object (a torch.distributions.Normal, pfrl's DiscreteActionValue,
    a dataclass of outputs), or None where the object is no result: a function, a class, a module,
    or a deferred computation, which holds the nn.Module that would compute it (gpytorch's lazy
    kernel tensor holds only its inputs and its kernel: comparing those would check nothing)."""
    if isinstance(value, _NOT_RESULTS):
        return None
    if dataclasses.is_dataclass(value):
        fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    else:
        state = getattr(value, "__dict__", None)
        if not isinstance(state, dict):
            return None
        fields = {k: v for k, v in sorted(state.items()) if not k.startswith("__")}
    if any(isinstance(v, torch.nn.Module) for v in fields.values()):
        return None
    return fields


def plain(value: Any, depth: int = 0) -> Any:
    """The output with its result objects opened into dicts of their attributes, so a module
    that returns a distribution or an output class is compared on the tensors it computed, as
    torch's own `same` does for the few such types it names (Normal, SquashedNormal, Instances).
    Tensors, numbers, lists, tuples and dicts stay what they are; an object holding no tensor
    stays itself (a forward that returns nothing to compare still says so)."""
    if isinstance(value, _ATOMS) or depth > MAX_DEPTH:
        return value
    if isinstance(value, (list, tuple)):
        items = [plain(v, depth + 1) for v in value]
        if hasattr(value, "_fields"):
            return type(value)(*items)
        return type(value)(items) if type(value) in (list, tuple) else tuple(items)
    if isinstance(value, dict):
        return {k: plain(v, depth + 1) for k, v in value.items()}
    fields = _result_fields(value)
    if fields is None:
        return value
    opened = {k: plain(v, depth + 1) for k, v in fields.items()}
    return opened if _leaf_tensors(opened) else value


def _leaf_tensors(value: Any) -> list[torch.Tensor]:
    return [t for t in tree_leaves(value) if isinstance(t, torch.Tensor)]


def tensors(value: Any) -> list[torch.Tensor]:
    """The tensors of an output, result objects opened (`plain`)."""
    return _leaf_tensors(plain(value))


def outputs_equal(a: Any, b: Any) -> bool:
    """Bitwise equality (NaN equal to NaN), for the two-eager-runs determinism check."""
    ta, tb = tensors(a), tensors(b)
    if len(ta) != len(tb):
        return False
    for x, y in zip(ta, tb):
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        if x.is_floating_point() or x.is_complex():
            if not torch.equal(torch.nan_to_num(x, nan=0.0), torch.nan_to_num(y, nan=0.0)) or \
               not torch.equal(torch.isnan(x), torch.isnan(y)):
                return False
        elif not torch.equal(x, y):
            return False
    return True


def to_fp64(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.double() if value.is_floating_point() else value
    if isinstance(value, (list, tuple)):
        return type(value)(to_fp64(v) for v in value)
    if isinstance(value, dict):
        return {k: to_fp64(v) for k, v in value.items()}
    return value


def compare(eager: Any, compiled: Any, fp64_ref: Any = None, tol: float = DEFAULT_TOL,
            reference: Callable[[], Any] | None = None) -> Parity:
    """Metrics over all floating outputs plus torch's accept/reject verdict.

    `reference` computes the fp64 run on demand: torch's `same` tries a plain
    allclose first and only consults fp64 when that fails, so a passing case
    need not pay for an fp64 forward at all.
    """
    eager, compiled, fp64_ref = plain(eager), plain(compiled), plain(fp64_ref)
    if reference is not None:
        raw_reference = reference
        reference = lambda: plain(raw_reference())  # noqa: E731
    te, tc = _leaf_tensors(eager), _leaf_tensors(compiled)
    if len(te) != len(tc):
        return Parity(False, None, None, None, tol)
    max_abs, sq, n, dot, ne, nc = 0.0, 0.0, 0, 0.0, 0.0, 0.0
    for x, y in zip(te, tc):
        if x.shape != y.shape:
            return Parity(False, None, None, None, tol)
        xf, yf = x.detach().double().flatten().cpu(), y.detach().double().flatten().cpu()
        if xf.numel() == 0:
            continue
        finite = torch.isfinite(xf) & torch.isfinite(yf)
        # inf vs nan, +inf vs -inf, or a finite value against a non-finite one is an
        # infinite error: metrics over the finite positions alone would read 0.0.
        nonfinite_same = (xf == yf) | (torch.isnan(xf) & torch.isnan(yf))
        if bool((~finite & ~nonfinite_same).any()):
            max_abs = math.inf
        d = (xf - yf)[finite]
        if d.numel():
            max_abs = max(max_abs, float(d.abs().max()))
            sq += float((d * d).sum())
            n += d.numel()
        dot += float((xf[finite] * yf[finite]).sum())
        ne += float((xf[finite] ** 2).sum())
        nc += float((yf[finite] ** 2).sum())
    rmse = math.sqrt(sq / n) if n else 0.0
    cosine = dot / math.sqrt(ne * nc) if ne > 0 and nc > 0 else (1.0 if ne == nc else 0.0)
    try:
        ok = verdict(eager, compiled, fp64_ref, tol, reference)
    except Exception:  # noqa: BLE001 - exotic outputs: fall back to our metrics
        ok = max_abs <= tol or cosine > 1 - tol
    return Parity(ok, max_abs, rmse, cosine, tol)


def same(ref: Any, res: Any, fp64_ref: Any, tol: float, quiet: bool = False) -> bool:
    """torch's own accuracy check (torch._dynamo.utils.same), with an fp64 reference to judge rounding.

    The backend owns its comparison: this is the one place graphcrawl calls it.
    quiet: a first try without fp64, whose rejections are not yet a verdict.
    """
    from torch._dynamo.utils import same as torch_same
    extra = {"log_error": lambda *a, **k: None} if quiet else {}
    return bool(torch_same(ref, res, fp64_ref=fp64_ref, tol=tol, equal_nan=True, **extra))


def verdict(eager: Any, compiled: Any, fp64_ref: Any, tol: float,
            reference: Callable[[], Any] | None = None) -> bool:
    """torch's accept/reject; the fp64 reference is asked for only when allclose alone rejects."""
    if fp64_ref is None and reference is not None:
        if same(eager, compiled, None, tol, quiet=True):
            return True
        fp64_ref = reference()
    return same(eager, compiled, fp64_ref, tol)
