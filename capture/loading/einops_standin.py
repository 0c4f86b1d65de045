"""A small einops stand-in, used by capture/loading/importer.py when einops is not installed.

Why: einops is the most common third-party import of crawled model code
(lucidrains' repos use it in nearly every module), and a permissive stub
returns non-tensors from `rearrange`, so every such module fails in eager.
The pattern language is small and its semantics are plain reshape / permute
/ expand / reduce, so this implements it on torch ops: rearrange, repeat,
reduce, einsum, pack, unpack, parse_shape and the Rearrange/Reduce layers.
Anything outside that (EinMix, backends other than torch) raises
EinopsError. A case that used it records "einops" among its stubs.
"""
from __future__ import annotations

import math
import sys
import types
from typing import Any, Sequence

import torch
from torch import nn

ELLIPSIS = "…"


class EinopsError(ValueError):
    """A pattern this stand-in cannot apply (or that real einops would reject)."""


def _parse_side(side: str, tag: str = "") -> list[list[str]]:
    """'b (h w) c ...' -> [['b'], ['h', 'w'], ['c'], ['…']]; '1' and '()' are unit groups."""
    side = side.replace("...", f" {ELLIPSIS} ")
    groups: list[list[str]] = []
    current: list[str] | None = None
    token = ""
    unit = 0

    def flush() -> None:
        nonlocal token, unit
        if not token:
            return
        name = token
        if name.isdigit():
            name = f"{name}#{tag}{unit}"
            unit += 1
        if current is not None:
            current.append(name)
        else:
            groups.append([name])
        token = ""

    for ch in side:
        if ch == "(":
            flush()
            if current is not None:
                raise EinopsError("nested parentheses")
            current = []
        elif ch == ")":
            flush()
            if current is None:
                raise EinopsError("unbalanced parentheses")
            groups.append(current)
            current = None
        elif ch.isspace():
            flush()
        else:
            token += ch
    flush()
    if current is not None:
        raise EinopsError("unbalanced parentheses")
    return groups


def _expand_ellipsis(groups: list[list[str]], n: int) -> list[list[str]]:
    names = [f"{ELLIPSIS}{i}" for i in range(n)]
    out: list[list[str]] = []
    for g in groups:
        if g == [ELLIPSIS]:
            out += [[x] for x in names]
        elif ELLIPSIS in g:
            i = g.index(ELLIPSIS)
            out.append(g[:i] + names + g[i + 1:])
        else:
            out.append(g)
    return out


def _is_unit(name: str) -> bool:
    """An anonymous axis: '1', '()' or a number like the 2 in '(h 2)'."""
    return "#" in name


def _is_one(name: str) -> bool:
    return _is_unit(name) and _unit_len(name) == 1


def _unit_len(name: str) -> int:
    return int(name.split("#")[0])


def _apply(x: torch.Tensor, pattern: str, mode: str, reduction: Any = None, /, **axes: int) -> torch.Tensor:
    if isinstance(x, (list, tuple)):
        x = torch.stack(list(x))
    if "->" not in pattern:
        raise EinopsError(f"pattern needs '->': {pattern!r}")
    lhs_s, rhs_s = pattern.split("->")
    lhs, rhs = _parse_side(lhs_s, "l"), _parse_side(rhs_s, "r")
    has_ell = any(ELLIPSIS in g for g in lhs)
    fixed = len(lhs) - (1 if [ELLIPSIS] in lhs else 0)
    n_ell = x.dim() - fixed if has_ell else 0
    if n_ell < 0 or (not has_ell and len(lhs) != x.dim()):
        raise EinopsError(f"pattern {pattern!r} does not fit a tensor of {x.dim()} dims")
    lhs, rhs = _expand_ellipsis(lhs, n_ell), _expand_ellipsis(rhs, n_ell)
    if [ELLIPSIS] in lhs and n_ell == 0:
        lhs = [g for g in lhs if g]
    sizes: dict[str, int] = {k: int(v) for k, v in axes.items()}
    flat_l: list[str] = []
    for group, dim in zip(lhs, x.shape):
        unknown = [a for a in group if a not in sizes and not _is_unit(a)]
        known = math.prod(sizes[a] for a in group if a in sizes) * math.prod(_unit_len(a) for a in group if _is_unit(a))
        if len(unknown) > 1:
            raise EinopsError(f"cannot infer sizes of {unknown} in {pattern!r}")
        if unknown:
            if known == 0 or dim % known:
                raise EinopsError(f"shape {tuple(x.shape)} does not divide for {pattern!r}")
            sizes[unknown[0]] = dim // known
        elif known != dim:
            raise EinopsError(f"shape mismatch for group {group} in {pattern!r}: {dim} != {known}")
        flat_l += group
    for a in flat_l:
        if _is_unit(a):
            sizes[a] = _unit_len(a)
    x = x.reshape([sizes[a] for a in flat_l])
    flat_r = [a for g in rhs for a in g]
    right = set(flat_r)
    gone = [i for i, a in enumerate(flat_l) if a not in right and not _is_one(a)]
    if gone:
        if mode != "reduce":
            raise EinopsError(f"axes {[flat_l[i] for i in gone]} are not on the right side of {pattern!r}")
        x = _reduce(x, gone, reduction)
        flat_l = [a for i, a in enumerate(flat_l) if i not in gone]
    keep = [a for a in flat_l if not _is_one(a)]
    x = x.reshape([sizes[a] for a in keep])
    order = [a for a in flat_r if a in keep]
    x = x.permute([keep.index(a) for a in order])
    new = [a for a in flat_r if a not in keep]
    if new and mode == "rearrange" and any(not _is_one(a) for a in new):
        raise EinopsError(f"new axes {new} need repeat, not rearrange")
    for a in new:
        if a not in sizes:
            if _is_unit(a):
                sizes[a] = _unit_len(a)
            else:
                raise EinopsError(f"size of new axis {a!r} not given")
    if new:
        shape_r: list[int] = []
        src = iter(range(len(order)))
        view_shape = []
        for a in flat_r:
            if a in keep:
                view_shape.append(x.shape[next(src)])
            else:
                view_shape.append(1)
            shape_r.append(sizes[a])
        x = x.reshape(view_shape).expand(shape_r)
    return x.reshape([math.prod(sizes[a] for a in g) for g in rhs])


def _reduce(x: torch.Tensor, dims: list[int], reduction: Any) -> torch.Tensor:
    if callable(reduction):
        return reduction(x, tuple(dims))
    if reduction == "mean":
        return x.mean(dim=dims)
    if reduction == "sum":
        return x.sum(dim=dims)
    if reduction == "prod":
        for d in sorted(dims, reverse=True):
            x = x.prod(dim=d)
        return x
    if reduction in ("max", "min"):
        for d in sorted(dims, reverse=True):
            x = getattr(x, reduction)(dim=d).values
        return x
    if reduction == "any":
        return x.any(dim=dims) if hasattr(x, "any") else x
    raise EinopsError(f"unknown reduction {reduction!r}")


def rearrange(tensor: Any, pattern: str, /, **axes: int) -> torch.Tensor:
    return _apply(tensor, pattern, "rearrange", **axes)


def repeat(tensor: Any, pattern: str, /, **axes: int) -> torch.Tensor:
    return _apply(tensor, pattern, "repeat", **axes)


def reduce(tensor: Any, pattern: str, reduction: Any, /, **axes: int) -> torch.Tensor:
    return _apply(tensor, pattern, "reduce", reduction, **axes)


def einsum(*args: Any) -> torch.Tensor:
    """einops.einsum(a, b, 'b i d, b j d -> b i j'): long axis names mapped to letters."""
    *tensors, pattern = args
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = list(tensors[0])
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    names: dict[str, str] = {}

    def conv(side: str) -> str:
        out = []
        for tok in side.replace("...", " ... ").split():
            if tok == "...":
                out.append("...")
            else:
                if tok not in names:
                    names[tok] = next(letters)
                out.append(names[tok])
        return "".join(out)
    lhs, rhs = pattern.split("->")
    spec = ",".join(conv(s) for s in lhs.split(",")) + "->" + conv(rhs)
    return torch.einsum(spec, *tensors)


def parse_shape(x: torch.Tensor, pattern: str) -> dict[str, int]:
    names = pattern.split()
    if "..." in names:
        i = names.index("...")
        names = names[:i] + ["_"] * (x.dim() - len(names) + 1) + names[i + 1:]
    return {n: int(d) for n, d in zip(names, x.shape) if n != "_"}


def _pack_axes(pattern: str) -> tuple[int, int]:
    toks = pattern.split()
    if toks.count("*") != 1:
        raise EinopsError(f"pack pattern needs one '*': {pattern!r}")
    i = toks.index("*")
    return i, len(toks) - i - 1


def pack(tensors: Sequence[torch.Tensor], pattern: str) -> tuple[torch.Tensor, list[torch.Size]]:
    before, after = _pack_axes(pattern)
    flat, shapes = [], []
    for t in tensors:
        end = t.dim() - after
        shapes.append(t.shape[before:end])
        flat.append(t.reshape(*t.shape[:before], -1, *t.shape[end:]))
    return torch.cat(flat, dim=before), shapes


def unpack(tensor: torch.Tensor, packed_shapes: Sequence[Sequence[int]], pattern: str) -> list[torch.Tensor]:
    before, _ = _pack_axes(pattern)
    lengths = [math.prod(s) for s in packed_shapes]
    parts = torch.split(tensor, lengths, dim=before)
    return [p.reshape(*p.shape[:before], *s, *p.shape[before + 1:]) for p, s in zip(parts, packed_shapes)]


class Rearrange(nn.Module):
    def __init__(self, pattern: str, /, **axes: int) -> None:
        super().__init__()
        self.pattern, self.axes = pattern, axes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rearrange(x, self.pattern, **self.axes)


class Reduce(nn.Module):
    def __init__(self, pattern: str, reduction: Any, /, **axes: int) -> None:
        super().__init__()
        self.pattern, self.reduction, self.axes = pattern, reduction, axes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return reduce(x, self.pattern, self.reduction, **self.axes)


class EinMix(nn.Module):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise EinopsError("EinMix is not available in graphcrawl's einops stand-in")


def install() -> types.ModuleType:
    """Register `einops`, `einops.layers` and `einops.layers.torch` in sys.modules; return `einops`."""
    root = types.ModuleType("einops")
    root.__dict__.update(rearrange=rearrange, repeat=repeat, reduce=reduce, einsum=einsum, pack=pack,
                         unpack=unpack, parse_shape=parse_shape, EinopsError=EinopsError,
                         __version__="0.0+graphcrawl", __path__=[], __graphcrawl_shim__=True)
    layers = types.ModuleType("einops.layers")
    layers.__path__ = []  # type: ignore[attr-defined]
    torch_layers = types.ModuleType("einops.layers.torch")
    torch_layers.__dict__.update(Rearrange=Rearrange, Reduce=Reduce, EinMix=EinMix)
    layers.torch = torch_layers  # type: ignore[attr-defined]
    root.layers = layers  # type: ignore[attr-defined]
    sys.modules.update({"einops": root, "einops.layers": layers, "einops.layers.torch": torch_layers})
    return root
