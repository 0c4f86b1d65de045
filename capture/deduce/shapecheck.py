"""An input's exact shape, read from the check forward makes on it.

Why: a forward that validates its input (`if x.shape[1:] != (self.n_channels,
self.lookback, self.n_assets): raise ValueError(...)`) names the shape it wants,
and its error message (`Input x has incorrect shape ...`) names none, so no
message-driven fix can help. The check's tuple, with `self.<attr>` read off the
built module, is that shape; the dims before the slice are the batch.
"""
from __future__ import annotations

import ast
from typing import Any

from torch import nn

from capture.deduce.values import BATCH
from capture.deduce.static import _parse, defining_function

MAX_DIM = 512


def _dim(node: ast.expr, module: nn.Module) -> int | None:
    """An int the check compares against: a constant, or `self.attr` of the built module."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        value: Any = node.value
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        value = getattr(module, node.attr, None)
    else:
        return None
    return value if type(value) is int and 0 < value <= MAX_DIM else None


def _checked(node: ast.expr, param: str) -> int | None:
    """The first dim a `param.shape[k:]` / `param.shape` / `param.size()` expression covers."""
    if isinstance(node, ast.Call) and not node.args and isinstance(node.func, ast.Attribute) \
            and node.func.attr == "size":
        node = ast.Attribute(value=node.func.value, attr="shape")
    start = 0
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice) and node.slice.upper is None \
            and node.slice.step is None:
        lower = node.slice.lower
        if not (isinstance(lower, ast.Constant) and type(lower.value) is int and lower.value >= 0):
            return None
        start, node = lower.value, node.value
    if isinstance(node, ast.Attribute) and node.attr == "shape" and isinstance(node.value, ast.Name) \
            and node.value.id == param:
        return start
    return None


def checked_shape(module: nn.Module, param: str) -> list[int] | None:
    """The shape forward's `param.shape[k:] == (...)` check asks for, batch dims in front; None if none."""
    fn = defining_function(type(module), "forward")
    tree = _parse(fn) if fn is not None else None
    if tree is None:
        return None
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1
                and isinstance(node.ops[0], (ast.Eq, ast.NotEq))):
            continue
        for side, other in ((node.left, node.comparators[0]), (node.comparators[0], node.left)):
            start = _checked(side, param)
            if start is None or not isinstance(other, (ast.Tuple, ast.List)) or not other.elts:
                continue
            dims = [_dim(e, module) for e in other.elts]
            if all(d is not None for d in dims):
                return [BATCH] * start + [int(d) for d in dims if d is not None]
    return None
