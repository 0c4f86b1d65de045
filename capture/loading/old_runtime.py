"""numpy and Python behaviours old code relies on that today's versions removed (recorded like stubs).

Why: a crawl environment has numpy 2 and Python 3.11; much of the code it
crawls was written for numpy < 1.24 and Python <= 3.10 (or 2), and these removals
cost whole projects or files, not just one module:

- `np.float`, `np.int`, `np.bool`, `np.object`, `np.long`, `np.complex`,
  `np.str`, `np.unicode` were aliases of the builtins, removed in numpy 1.24
  (`dtype=np.float` in a class body or a default argument of fairseq's data
  code fails every file that imports it). They are the builtins again.
- Python 3.11 rejects a dataclass field whose default is an instance of an
  unhashable class (any other dataclass: `renderer: State = State()`), where
  3.10 only rejected list, dict and set and kept the instance as a shared
  class-level default. That default is accepted again, as 3.10 did; the
  class itself stays unhashable.
- Python 2's `/` on ints gave an int: `nn.Conv2d(c, out_channels / 4, 1)` and
  `nn.BatchNorm2d(out_channels / 4)` (pytorch-saliency's Bottleneck, linknet)
  pass 16.0 where torch wants 16. An integral float size of torch's layers is
  taken as the int; 16.5 still fails.

Each is installed once in the sandboxed child (`install`, called by the loader)
and changes nothing until crawled code meets the removal; the first use adds
its mark to the current case's stub list (stub_torch.mark), so a report counts
the cases that depend on it. Marks contain a space: a replay's stub seeding
skips them and the replayed child answers the same way.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
from typing import Any, Callable

from capture.loading import stub_torch

NUMPY_ALIASES: dict[str, type] = {"float": float, "int": int, "bool": bool, "object": object, "long": int,
                                  "complex": complex, "str": str, "unicode": str}
NUMPY_MARK = "numpy.{} (removed alias: the builtin, as numpy < 1.24)"
DATACLASS_MARK = "dataclasses (unhashable default kept as a shared default, as Python < 3.11)"

_installed = [False]


def _numpy_getattr(original: Callable[[str], Any] | None) -> Callable[[str], Any]:
    def __getattr__(name: str) -> Any:
        if name in NUMPY_ALIASES:
            stub_torch.mark(NUMPY_MARK.format(name))
            return NUMPY_ALIASES[name]
        if original is None:
            raise AttributeError(f"module 'numpy' has no attribute {name!r}")
        return original(name)
    return __getattr__


def _install_numpy() -> None:
    try:
        import numpy
    except ImportError:  # no numpy in this environment: code that imports it meets a stub
        return
    if any(n not in numpy.__dict__ for n in NUMPY_ALIASES):  # numpy's __getattr__ raises for these: answer first
        numpy.__getattr__ = _numpy_getattr(numpy.__dict__.get("__getattr__"))  # type: ignore[attr-defined]


def _install_dataclasses() -> None:
    original = getattr(dataclasses, "_get_field", None)
    if original is None or sys.version_info < (3, 11):
        return

    def _get_field(cls: type, a_name: str, *rest: Any) -> Any:
        try:
            return original(cls, a_name, *rest)
        except ValueError as exc:
            default = cls.__dict__.get(a_name, dataclasses.MISSING)
            kind = type(default)
            if "mutable default" not in str(exc) or default is dataclasses.MISSING \
                    or isinstance(default, (list, dict, set, dataclasses.Field)) or kind.__hash__ is not None:
                raise
            stub_torch.mark(DATACLASS_MARK)
            kind.__hash__ = object.__hash__  # only for the check; restored at once
            try:
                return original(cls, a_name, *rest)
            finally:
                kind.__hash__ = None  # type: ignore[assignment]
    dataclasses._get_field = _get_field  # type: ignore[attr-defined]


# the size arguments of torch's layers that Python 2's `/` turned into floats (`out_channels / 4`)
SIZE_ARGS = ("in_channels", "out_channels", "in_features", "out_features", "in1_features", "in2_features",
             "num_features", "num_embeddings", "embedding_dim", "input_size", "hidden_size", "proj_size",
             "num_layers", "num_channels", "num_groups", "groups", "embed_dim", "num_heads")
INT_DIVISION_MARK = "python 2 division (an integral float size of a torch layer taken as the int)"


def _integral_float(value: Any) -> bool:
    return isinstance(value, float) and value.is_integer() and value > 0


def _int_sizes(original: Callable[..., None]) -> Callable[..., None]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if any(_integral_float(v) for v in (*args, *kwargs.values())):
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError:
                return original(self, *args, **kwargs)
            sizes = [n for n in SIZE_ARGS if _integral_float(bound.arguments.get(n))]
            if sizes:
                stub_torch.mark(INT_DIVISION_MARK)
                for name in sizes:
                    bound.arguments[name] = int(bound.arguments[name])
                return original(*bound.args, **bound.kwargs)
        return original(self, *args, **kwargs)
    return __init__


def _install_int_sizes() -> None:
    """`nn.Conv2d(c, out_channels / 4, 1)` from Python 2 code: 16.0 is the 16 its author meant
    (torch.empty rejects the float); sizes like 16.5 still fail as they would have then."""
    from torch import nn
    from torch.nn.modules import batchnorm, conv, rnn
    for cls in (conv._ConvNd, nn.Linear, nn.Bilinear, batchnorm._NormBase, nn.Embedding, nn.EmbeddingBag,
                nn.GroupNorm, rnn.RNNBase, rnn.RNNCellBase, nn.MultiheadAttention):
        if "__init__" in cls.__dict__:
            cls.__init__ = _int_sizes(cls.__dict__["__init__"])  # type: ignore[method-assign]


def install() -> None:
    """Patch numpy, dataclasses and torch's layer sizes in this process (idempotent)."""
    if _installed[0]:
        return
    _installed[0] = True
    _install_numpy()
    _install_dataclasses()
    _install_int_sizes()
