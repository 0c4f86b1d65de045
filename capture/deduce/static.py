"""Read, without running anything, how a class uses its constructor args and forward inputs.

Why: the source usually says what an argument is. `nn.Conv2d(in_ch, ...)` makes
`in_ch` a channel count, `for _ in range(depth)` an int, `cfg.model.dim` a nested
config, `if norm == "batch"` a string with a known good value, `block(a, b)` a
class; in forward, `self.conv1(x)` says which layer first sees `x`,
`b, c, h, w = x.shape` its rank, `x["image"]` that it is a dict. Reading that
first means fewer blind tries, and inputs that look like real use.

Everything here is best effort: no source (a C extension, a lambda, a class
made at run time) or a syntax this reader does not follow gives an empty
reading, never an error.
"""
from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable

# (constructor name, positional index or keyword) -> role of the argument passed there.
_ROLE_ARGS: dict[str, list[str]] = {
    "Conv1d": ["in_channels", "out_channels", "kernel_size", "stride", "padding"],
    "Conv2d": ["in_channels", "out_channels", "kernel_size", "stride", "padding"],
    "Conv3d": ["in_channels", "out_channels", "kernel_size", "stride", "padding"],
    "ConvTranspose1d": ["in_channels", "out_channels", "kernel_size", "stride", "padding"],
    "ConvTranspose2d": ["in_channels", "out_channels", "kernel_size", "stride", "padding"],
    "ConvTranspose3d": ["in_channels", "out_channels", "kernel_size", "stride", "padding"],
    "Linear": ["in_features", "out_features"],
    "Bilinear": ["in_features", "in_features", "out_features"],
    "Embedding": ["num_embeddings", "embedding_dim"],
    "EmbeddingBag": ["num_embeddings", "embedding_dim"],
    "LSTM": ["input_size", "hidden_size", "num_layers"],
    "GRU": ["input_size", "hidden_size", "num_layers"],
    "RNN": ["input_size", "hidden_size", "num_layers"],
    "LSTMCell": ["input_size", "hidden_size"],
    "GRUCell": ["input_size", "hidden_size"],
    "BatchNorm1d": ["num_features"], "BatchNorm2d": ["num_features"], "BatchNorm3d": ["num_features"],
    "InstanceNorm1d": ["num_features"], "InstanceNorm2d": ["num_features"], "InstanceNorm3d": ["num_features"],
    "LayerNorm": ["normalized_shape"],
    "GroupNorm": ["num_groups", "num_channels"],
    "MultiheadAttention": ["embed_dim", "num_heads"],
    "TransformerEncoderLayer": ["d_model", "nhead", "dim_feedforward"],
    "TransformerDecoderLayer": ["d_model", "nhead", "dim_feedforward"],
    "Transformer": ["d_model", "nhead"],
    "Dropout": ["p"], "Dropout2d": ["p"],
    "MaxPool2d": ["kernel_size", "stride"], "AvgPool2d": ["kernel_size", "stride"],
    "Upsample": ["size", "scale_factor"],
    "PixelShuffle": ["upscale_factor"],
}
# torch.Tensor(rgb_mean) / torch.tensor(std): with one argument, the tensor's data (a sequence);
# torch.Tensor(out_features, in_features) is the size form, its arguments sizes (visit_Call)
_DATA_CALLS = {"Tensor", "FloatTensor", "tensor", "as_tensor"}
_KW_ROLES = {"in_channels", "out_channels", "kernel_size", "stride", "padding", "groups", "dilation",
             "in_features", "out_features", "num_embeddings", "embedding_dim", "input_size",
             "hidden_size", "num_layers", "num_features", "normalized_shape", "num_groups",
             "num_channels", "embed_dim", "num_heads", "d_model", "nhead", "dim_feedforward",
             "padding_idx", "scale_factor", "bidirectional", "batch_first", "p", "dropout", "bias"}
TENSOR_ATTRS = {"shape", "device", "dtype", "ndim", "T", "data", "is_cuda", "requires_grad", "grad", "mT"}
TENSOR_METHODS_BEFORE_LAYER = {"transpose", "permute", "unsqueeze", "view", "reshape", "flatten",
                               "squeeze", "float", "long", "contiguous", "to", "type", "t"}


@dataclass
class Use:
    """What the source says about one argument (or one `cfg.a.b` path)."""

    roles: list[tuple[str, str]] = field(default_factory=list)  # (constructor, role)
    attrs: list[str] = field(default_factory=list)               # arg.x reads
    keys: list[Any] = field(default_factory=list)                # arg["k"] / arg[0]
    str_choices: list[str] = field(default_factory=list)         # arg == "lit", arg in ("a", "b")
    called: list[int] = field(default_factory=list)              # arg(...) with n positional args
    methods: list[str] = field(default_factory=list)             # arg.m(...)
    iterated: bool = False                                       # for _ in arg, len(arg), zip(arg)
    is_int: bool = False                                         # range(arg), arg // 2, arg * k
    is_none_checked: bool = False                                # arg is None
    rank: int | None = None                                      # a, b, c = arg.shape
    min_rank: int = 0                                            # arg.size(3), arg[:, :, 0]
    unpack: int | None = None                                    # a, b = arg
    first_layer: str | None = None                               # "conv1", "layers.0" (forward)
    before_layer: list[str] = field(default_factory=list)        # x.permute(...) before that layer
    via_cat: bool = False                                        # reached the layer through torch.cat


@dataclass
class Reading:
    """Uses by name: plain params ("x") and attribute paths ("cfg.model.dim")."""

    params: list[str] = field(default_factory=list)
    uses: dict[str, Use] = field(default_factory=dict)
    ok: bool = False

    def use(self, key: str) -> Use:
        return self.uses.get(key) or Use()

    def paths_under(self, root: str) -> dict[str, Use]:
        """`cfg.a`, `cfg.a.b`, ... for root `cfg`, without the root prefix."""
        pre = root + "."
        return {k[len(pre):]: u for k, u in self.uses.items() if k.startswith(pre)}


def defining_function(cls: type, name: str) -> Callable[..., Any] | None:
    """The function `name` as written in the nearest class of the MRO that has source."""
    for klass in cls.__mro__:
        if klass.__module__.startswith("torch.") or klass is object:
            return None
        fn = klass.__dict__.get(name)
        if fn is not None:
            return getattr(fn, "__func__", fn)
    return None


@functools.lru_cache(maxsize=512)
def _parse(fn: Callable[..., Any]) -> ast.FunctionDef | None:
    try:
        src = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(src)
    except (OSError, TypeError, SyntaxError, IndentationError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return node  # type: ignore[return-value]
    return None


def read_function(fn: Callable[..., Any] | None) -> Reading:
    """Read one function's source; an empty Reading when there is none."""
    return _read_with_helpers(fn)[0]


def _read_with_helpers(fn: Callable[..., Any] | None) -> tuple[Reading, list[tuple[str, list[str | None], dict[str, str]]]]:
    if fn is None:
        return Reading(), []
    try:
        node = _parse(fn)
    except TypeError:  # unhashable callable
        node = None
    if node is None:
        return Reading(), []
    params = [a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]]
    if params and params[0] in ("self", "cls"):
        params = params[1:]
    reader = _Reader(set(params))
    try:
        reader.visit_body(node.body)
    except RecursionError:
        return Reading(params=params), []
    return Reading(params=params, uses=reader.uses, ok=True), reader.helper_calls


def read_class(cls: type, method: str) -> Reading:
    """Read `method`, plus (one level) the class's own helpers it passes arguments to.

    `self._make_layer(block, 64, num_blocks[0])` in __init__ makes `block` a
    class if `_make_layer` calls its `block` parameter.
    """
    reading, helpers = _read_with_helpers(defining_function(cls, method))
    for name, pos, kws in helpers:
        fn = defining_function(cls, name)
        if fn is None or name == method:
            continue
        inner, _ = _read_with_helpers(fn)
        if not inner.ok:
            continue
        mapping = {p: k for p, k in zip(inner.params, pos) if k}
        mapping.update({p: k for p, k in kws.items() if p in inner.params})
        for param, outer_key in mapping.items():
            for key, use in inner.uses.items():
                if key == param or key.startswith(param + "."):
                    target = outer_key + key[len(param):]
                    reading.uses[target] = _merge(reading.uses.get(target), use)
    return reading


def _merge(a: Use | None, b: Use) -> Use:
    if a is None:
        return b
    return Use(roles=a.roles + b.roles, attrs=a.attrs + b.attrs, keys=a.keys + b.keys,
               str_choices=a.str_choices + b.str_choices, called=a.called + b.called,
               methods=a.methods + b.methods, iterated=a.iterated or b.iterated, is_int=a.is_int or b.is_int,
               is_none_checked=a.is_none_checked or b.is_none_checked, rank=a.rank or b.rank,
               min_rank=max(a.min_rank, b.min_rank), unpack=a.unpack or b.unpack,
               first_layer=a.first_layer or b.first_layer, before_layer=a.before_layer or b.before_layer,
               via_cat=a.via_cat or b.via_cat)


def _callee_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _self_path(node: ast.expr) -> str | None:
    """`self.a.b` -> "a.b"; `self.layers[0]` -> "layers.0"; else None."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int):
            parts.append(str(node.slice.value))
            node = node.value
        else:
            break
    if isinstance(node, ast.Name) and node.id == "self" and parts:
        return ".".join(reversed(parts))
    return None


class _Reader:
    """A source-order walk (close to evaluation order) recording uses of the params."""

    def __init__(self, params: set[str]) -> None:
        self.params = params
        self.uses: dict[str, Use] = {}
        self.loop_vars: dict[str, str] = {}     # for layer in self.layers -> layer: "layers"
        self.pending_before: dict[str, list[str]] = {}
        self.aliases: dict[str, str] = {}       # x = inputs / n = cfg.n -> x stands for that
        self.cat_aliases: dict[str, list[str]] = {}  # sa = torch.cat([state, action], 1)
        self.helper_calls: list[tuple[str, list[str | None], dict[str, str]]] = []  # self.m(block, ...)

    # -- keys -------------------------------------------------------------
    def key(self, node: ast.expr) -> str | None:
        """The param (or param attribute path) an expression names, if any."""
        if isinstance(node, ast.Name):
            if node.id in self.params:
                return node.id
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.key(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            base = self.key(node.value)
            return f"{base}.{node.slice.value}" if base else None
        return None

    def u(self, key: str) -> Use:
        if key not in self.uses:
            self.uses[key] = Use()
        return self.uses[key]

    def _tensor_roots(self, node: ast.expr) -> tuple[list[str], list[str], bool]:
        """A direct layer argument: `x`, `x.permute(...)`, `torch.cat([x, y])` -> (keys, methods, via_cat)."""
        methods: list[str] = []
        while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in TENSOR_METHODS_BEFORE_LAYER:
            methods.append(node.func.attr)
            node = node.func.value
        if isinstance(node, ast.Call) and _callee_name(node.func) in ("cat", "concat", "stack") and node.args \
                and isinstance(node.args[0], (ast.List, ast.Tuple)):
            keys = []
            for elt in node.args[0].elts:
                ks, _, _ = self._tensor_roots(elt)
                keys += ks
            return keys, list(reversed(methods)), bool(keys)
        if isinstance(node, ast.Name) and node.id in self.cat_aliases:
            return list(self.cat_aliases[node.id]), list(reversed(methods)), True
        if isinstance(node, ast.Name):
            k = self.key(node)
            if k and "." not in k:
                return [k], list(reversed(methods)), False
        return [], [], False

    def _tensor_root(self, node: ast.expr) -> tuple[str | None, list[str], bool]:
        keys, methods, via_cat = self._tensor_roots(node)
        return (keys[0] if keys else None), methods, via_cat

    # -- walking ------------------------------------------------------------
    def visit_body(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.visit(stmt)

    def visit(self, node: ast.AST) -> None:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is not None:
            method(node)
        else:
            self.generic(node)

    def generic(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue  # nested defs may rebind names; their uses are not this function's
            self.visit(child)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        it = node.iter
        k = self.key(it)
        if k:
            self.u(k).iterated = True
        if isinstance(it, ast.Call) and _callee_name(it.func) in ("enumerate", "zip", "reversed", "len"):
            for a in it.args:
                ka = self.key(a)
                if ka:
                    self.u(ka).iterated = True
        path = _self_path(it)
        if path and isinstance(node.target, ast.Name):
            self.loop_vars[node.target.id] = path
        self.visit_body(node.body)
        self.visit_body(node.orelse)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        value = node.value
        for target in node.targets:
            if isinstance(target, ast.Tuple) and not any(isinstance(e, ast.Starred) for e in target.elts):
                n = len(target.elts)
                # a, b, c = x.shape / x.size()
                src = value.value if isinstance(value, ast.Attribute) and value.attr == "shape" else (
                    value.func.value if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                    and value.func.attr == "size" and not value.args else None)
                if src is not None:
                    k = self.key(src)
                    if k:
                        self.u(k).rank = self.u(k).rank or n
                    continue
                # a, b = cfg.a, cfg.b
                if isinstance(value, ast.Tuple) and len(value.elts) == n:
                    for t, v in zip(target.elts, value.elts):
                        self._bind(t, v)
                    continue
                k = self.key(value)
                if k:
                    self.u(k).unpack = self.u(k).unpack or n
            elif isinstance(target, ast.Name):
                self._bind(target, value)
            else:
                self.visit(target)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        """Remember what a local name stands for: a param (path), a cat of params, or x.permute(...)."""
        if not isinstance(target, ast.Name):
            return
        name = target.id
        keys, methods, via_cat = self._tensor_roots(value)
        if via_cat and keys:
            self.cat_aliases[name] = keys
            return
        self.cat_aliases.pop(name, None)
        if keys and keys[0] == name and methods:
            self.pending_before.setdefault(name, []).extend(methods)
            return
        k = self.key(value) if name not in self.params else None
        if k is not None:
            self.aliases[name] = k
        else:
            self.aliases.pop(name, None)

    def visit_Compare(self, node: ast.Compare) -> None:
        self.generic(node)
        left = node.left
        k = self.key(left)
        if k is None and isinstance(left, ast.Call) and isinstance(left.func, ast.Attribute) \
                and left.func.attr in ("lower", "upper", "strip"):
            k = self.key(left.func.value)
        for op, right in zip(node.ops, node.comparators):
            if k is None:
                continue
            if isinstance(right, ast.Constant):
                if isinstance(right.value, str) and isinstance(op, (ast.Eq, ast.NotEq)):
                    self.u(k).str_choices.append(right.value)
                elif right.value is None:
                    self.u(k).is_none_checked = True
            elif isinstance(right, (ast.Tuple, ast.List, ast.Set)) and isinstance(op, ast.In):
                self.u(k).str_choices += [e.value for e in right.elts
                                          if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        # x.dim() == 4 / len(x.shape) == 4
        if len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq) and isinstance(node.comparators[0], ast.Constant) \
                and isinstance(node.comparators[0].value, int):
            n = node.comparators[0].value
            target = None
            if isinstance(left, ast.Call) and isinstance(left.func, ast.Attribute) and left.func.attr in ("dim", "ndimension"):
                target = left.func.value
            elif isinstance(left, ast.Attribute) and left.attr == "ndim":
                target = left.value
            elif isinstance(left, ast.Call) and _callee_name(left.func) == "len" and left.args \
                    and isinstance(left.args[0], ast.Attribute) and left.args[0].attr == "shape":
                target = left.args[0].value
            kt = self.key(target) if target is not None else None
            if kt and self.u(kt).rank is None:
                self.u(kt).rank = n

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.generic(node)
        for side, other in ((node.left, node.right), (node.right, node.left)):
            k = self.key(side)
            if k and isinstance(other, ast.Constant) and isinstance(other.value, int) and not isinstance(other.value, bool) \
                    and isinstance(node.op, (ast.Mult, ast.FloorDiv, ast.Mod, ast.Add, ast.Sub)):
                self.u(k).is_int = True

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.generic(node)
        k = self.key(node.value)
        if k is None:
            # x.shape[2] / x.shape[-1]
            if isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
                kk = self.key(node.value.value)
                idx = _const_int(node.slice)
                if kk and idx is not None:
                    self.u(kk).min_rank = max(self.u(kk).min_rank, idx + 1 if idx >= 0 else -idx)
            return
        sl = node.slice
        if isinstance(sl, ast.Constant):
            if isinstance(sl.value, (str, int)) and not isinstance(sl.value, bool):
                self.u(k).keys.append(sl.value)
        elif isinstance(sl, ast.Tuple):
            dims = [e for e in sl.elts if not (isinstance(e, ast.Constant) and e.value in (None, Ellipsis))]
            if not any(isinstance(e, ast.Constant) and e.value is Ellipsis for e in sl.elts):
                self.u(k).min_rank = max(self.u(k).min_rank, len(dims))
        elif isinstance(sl, ast.UnaryOp) and _const_int(sl) is not None:
            self.u(k).keys.append(_const_int(sl))
        elif isinstance(sl, ast.Name):
            self.u(k).iterated = True

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.generic(node)
        k = self.key(node.value)
        if k and node.attr not in TENSOR_ATTRS:
            self.u(k).attrs.append(node.attr)
            self.u(f"{k}.{node.attr}")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        method_call = False
        # arg.method(...): not an attribute read
        if isinstance(func, ast.Attribute):
            k = self.key(func.value)
            if k:
                method_call = True
                self.u(k).methods.append(func.attr)
                if func.attr in ("size",) and node.args:
                    idx = _const_int(node.args[0])
                    if idx is not None:
                        self.u(k).min_rank = max(self.u(k).min_rank, idx + 1 if idx >= 0 else -idx)
                if func.attr == "get" and node.args and isinstance(node.args[0], ast.Constant) \
                        and isinstance(node.args[0].value, str):
                    self.u(k).keys.append(node.args[0].value)
                self.visit(func.value)
            else:
                self.visit(func)
        else:
            self.visit(func)
        for a in node.args:
            self.visit(a)
        for kw in node.keywords:
            self.visit(kw.value)
        name = _callee_name(func)
        kf = None if method_call else self.key(func)
        if kf:
            self.u(kf).called.append(len(node.args))
        if name in ("range",):
            for a in node.args:
                k = self.key(a)
                if k:
                    self.u(k).is_int = True
        if name in ("len", "zip", "enumerate", "sum", "max", "min", "list", "tuple", "sorted", "reversed") \
                and not isinstance(func, ast.Attribute) or name in ("extend",):
            for a in node.args:
                k = self.key(a)
                if k:
                    self.u(k).iterated = True
        if name in _DATA_CALLS and len(node.args) == 1 and not isinstance(node.args[0], ast.Starred):
            k = self.key(node.args[0])
            if k:
                self.u(k).roles.append((name, "data"))
        roles = _ROLE_ARGS.get(name)
        if roles:
            for i, a in enumerate(node.args):
                k = self.key(a)
                if k and i < len(roles):
                    self.u(k).roles.append((name, roles[i]))
        for kw in node.keywords:
            k = self.key(kw.value)
            if k and kw.arg in _KW_ROLES:
                self.u(k).roles.append((name, kw.arg))
        # self.layer(x): the first layer an input meets; `self.layer.forward(x)` is the same call
        path = _self_path(func)
        if path and path.endswith(".forward"):
            path = path[: -len(".forward")]
        if path is None and isinstance(func, ast.Name) and func.id in self.loop_vars:
            path = self.loop_vars[func.id]
        if path is None and isinstance(func, ast.Subscript):
            inner = _self_path(func.value)
            path = f"{inner}.0" if inner else None
        if path and node.args:
            keys, methods, via_cat = self._tensor_roots(node.args[0])
            for k in keys:
                if self.u(k).first_layer is None:
                    use = self.u(k)
                    use.first_layer = path
                    use.before_layer = self.pending_before.get(k, []) + methods
                    use.via_cat = via_cat
        if path:
            for a in node.args[1:]:
                k, methods, _ = self._tensor_root(a)
                if k and self.u(k).first_layer is None:
                    self.u(k).first_layer = path + "#arg"
        # self.helper(block, 64, num_blocks[0]): read later with the helper's own param names
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
            pos = [self.key(a) for a in node.args]
            kws = {kw.arg: k for kw in node.keywords if kw.arg and (k := self.key(kw.value))}
            if any(pos) or kws:
                self.helper_calls.append((func.attr, pos, kws))


def _const_int(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, int):
        return -node.operand.value
    return None
