"""Constructor args and forward inputs as plain JSON data.

A case must replay exactly on another torch version, so values are stored as
descriptions (shape, dtype, value range, seed), never as pickles, and rebuilt
by `materialize` with a seeded generator.

Value spec forms:
  {"kind": "tensor", "shape": [2, 3], "dtype": "float32", "low": 0, "high": 1}
      floats are uniform in [low, high) (default: standard normal when both absent);
      integer and bool dtypes are uniform integers in [low, high)
  {"kind": "const", "value": 3}                        int, float, bool, str, None
  {"kind": "list"|"tuple", "items": [spec, ...]}
  {"kind": "dict", "items": {"key": spec}}
  {"kind": "config", "attrs": {"name": spec}}          attribute bag (cfg.x reads)
  {"kind": "module", "name": "Identity"|"ReLU"|...}     a torch.nn class with no args
  {"kind": "dtype", "name": "float32"}
  {"kind": "class", "module": "torch.nn"|"<the case file's module>", "name": "BatchNorm2d"}
      a class itself, not an instance (a `block` or `norm_layer` argument); a
      crawled file's module is in sys.modules once the case's class is loaded
  {"kind": "function", "module": "<a repo module>", "name": "default_conv"}
      a function of the crawled repo, passed as a factory argument (`conv=default_conv`)
  {"kind": "instance", "module": "<a repo module>", "name": "AttentionLayer",
   "init": {"args": [...], "kwargs": {...}}}
      an nn.Module of the crawled repo built from its own (deduced) constructor args
  {"kind": "literal", "dtype": "int64", "data": [8, 5]}  exact small tensor values
      (lengths, padding masks) as nested lists
A case spec: {"seed": 0, "mode": "eval", "init": {"args": [...], "kwargs": {...}},
              "inputs": {"args": [...], "kwargs": {...}}}
"""
from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace
from typing import Any

import torch

SPEC_VERSION = 1


class ConfigBag(SimpleNamespace):
    """A replayed config object: attribute and item access, like cfg.x or cfg["x"]."""

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __contains__(self, key: str) -> bool:
        return hasattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def keys(self):  # noqa: D401 - mapping protocol
        return vars(self).keys()

    def items(self):
        return vars(self).items()


def tensor(shape: list[int], dtype: str = "float32", low: float | None = None,
           high: float | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": "tensor", "shape": list(shape), "dtype": dtype}
    if low is not None:
        spec["low"] = low
    if high is not None:
        spec["high"] = high
    return spec


def const(value: Any) -> dict[str, Any]:
    return {"kind": "const", "value": value}


def _dtype(name: str) -> torch.dtype:
    dt = getattr(torch, name, None)
    if not isinstance(dt, torch.dtype):
        raise ValueError(f"unknown dtype {name!r}")
    return dt


def materialize(spec: dict[str, Any], gen: torch.Generator) -> Any:
    """Build the value a spec describes; the generator makes it reproducible."""
    kind = spec["kind"]
    if kind == "tensor":
        dtype = _dtype(spec["dtype"])
        shape = spec["shape"]
        low, high = spec.get("low"), spec.get("high")
        if dtype == torch.bool:
            return torch.randint(int(low or 0), int(high or 2), shape, generator=gen).bool()
        if not dtype.is_floating_point and not dtype.is_complex:
            return torch.randint(int(low if low is not None else 0),
                                 int(high if high is not None else 10), shape,
                                 generator=gen, dtype=dtype)
        if low is None and high is None:
            return torch.randn(shape, generator=gen).to(dtype)
        lo = 0.0 if low is None else float(low)
        hi = 1.0 if high is None else float(high)
        return (torch.rand(shape, generator=gen) * (hi - lo) + lo).to(dtype)
    if kind == "const":
        return spec["value"]
    if kind in ("list", "tuple"):
        items = [materialize(s, gen) for s in spec["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: materialize(s, gen) for k, s in spec["items"].items()}
    if kind == "config":
        return ConfigBag(**{k: materialize(s, gen) for k, s in spec["attrs"].items()})
    if kind == "module":
        return getattr(torch.nn, spec["name"])()
    if kind == "dtype":
        return _dtype(spec["name"])
    if kind == "class":
        return resolve_class(spec["module"], spec["name"])
    if kind == "literal":
        return torch.tensor(spec["data"], dtype=_dtype(spec["dtype"]))
    if kind == "function":
        fn = _resolve(spec["module"], spec["name"])
        if not callable(fn):
            raise ValueError(f"{spec['module']}.{spec['name']} is not callable")
        return fn
    if kind == "instance":
        cls = resolve_class(spec["module"], spec["name"])
        args, kwargs = materialize_call(spec.get("init", {}), gen)
        return cls(*args, **kwargs)
    raise ValueError(f"unknown value spec kind {kind!r}")


def _resolve(module: str, qualname: str) -> Any:
    obj: Any = sys.modules.get(module) or importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def resolve_class(module: str, qualname: str) -> type:
    """A class by module and qualname; the module is imported if it is not loaded yet."""
    obj = _resolve(module, qualname)
    if not isinstance(obj, type):
        raise ValueError(f"{module}.{qualname} is not a class")
    return obj


def materialize_call(call: dict[str, Any], gen: torch.Generator) -> tuple[list[Any], dict[str, Any]]:
    args = [materialize(s, gen) for s in call.get("args", [])]
    kwargs = {k: materialize(s, gen) for k, s in call.get("kwargs", {}).items()}
    return args, kwargs


def make_generator(seed: int) -> torch.Generator:
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def summarize(spec: dict[str, Any]) -> str:
    """One short human line for a value spec, for reports and logs."""
    kind = spec["kind"]
    if kind == "tensor":
        rng = f"[{spec['low']},{spec['high']})" if "low" in spec and "high" in spec else ""
        return f"{spec['dtype']}{list(spec['shape'])}{rng}"
    if kind == "const":
        return repr(spec["value"])
    if kind in ("list", "tuple"):
        inner = ", ".join(summarize(s) for s in spec["items"])
        return f"[{inner}]" if kind == "list" else f"({inner})"
    if kind in ("dict", "config"):
        items = spec["items"] if kind == "dict" else spec["attrs"]
        inner = ", ".join(f"{k}={summarize(s)}" for k, s in items.items())
        return ("{" + inner + "}") if kind == "dict" else f"cfg({inner})"
    if kind == "literal":
        return f"{spec['dtype']}{spec['data']}"
    if kind == "instance":
        return f"{spec['name']}(...)"
    return f"{kind}:{spec.get('name')}"
