"""Small stand-ins for torch APIs old code imports and torch has removed (recorded like stubs).

Why: `from torch._six import container_abcs, string_classes` (gone in torch 2.0),
`from torch._utils import _accumulate`, `from torch.utils.data.dataloader import
numpy_type_map` fail the whole file today, or meet a permissive stub whose
`isinstance(x, string_classes)` is always False. These give what the removed API
gave, built from what torch and the standard library have now. A module is
served only where torch itself has none (a torch that still ships it wins);
each use is recorded on the case as "<name> (compat shim)".
"""
from __future__ import annotations

import collections.abc
import importlib.abc
import importlib.machinery
import itertools
import math
import sys
import types
from typing import Any, Callable

MARK = "{} (compat shim)"


def _six() -> types.ModuleType:
    m = types.ModuleType("torch._six")
    m.__dict__.update(
        string_classes=(str, bytes), int_classes=int, container_abcs=collections.abc, inf=math.inf, nan=math.nan,
        PY2=False, PY3=True, PY37=True, FileNotFoundError=FileNotFoundError, builtins=__import__("builtins"),
        istuple=lambda x: isinstance(x, tuple), raise_from=lambda value, from_value: _raise(value, from_value),
        with_metaclass=lambda meta, *bases: meta("temporary_class", bases or (object,), {}),
        __graphcrawl_compat__=True)
    return m


def _raise(value: BaseException, from_value: BaseException | None) -> None:
    raise value from from_value


def _numpy_type_map() -> dict[str, Any]:
    import torch
    return {"float64": torch.DoubleTensor, "float32": torch.FloatTensor, "float16": torch.HalfTensor,
            "int64": torch.LongTensor, "int32": torch.IntTensor, "int16": torch.ShortTensor,
            "int8": torch.CharTensor, "uint8": torch.ByteTensor}


def _dataloader_iter() -> Any:
    from torch.utils.data import dataloader
    return dataloader._MultiProcessingDataLoaderIter


MODULES: dict[str, Callable[[], types.ModuleType]] = {"torch._six": _six}
# (module, name) -> the value the removed name had
NAMES: dict[tuple[str, str], Callable[[], Any]] = {
    ("torch._utils", "_accumulate"): lambda: itertools.accumulate,
    ("torch._six", "string_classes"): lambda: (str, bytes),
    ("torch.utils.data.dataloader", "numpy_type_map"): _numpy_type_map,
    ("torch.utils.data._utils.collate", "numpy_type_map"): _numpy_type_map,
    ("torch.utils.data.dataloader", "_DataLoaderIter"): _dataloader_iter,
}


def value_for(module: str, name: str) -> tuple[bool, Any]:
    """(True, value) where `module.name` is a removed torch API this file stands in for."""
    make = NAMES.get((module, name))
    return (True, make()) if make is not None else (False, None)


class CompatFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves MODULES where nothing else has them; `used` names what an import asked for."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def find_spec(self, fullname: str, path: Any, target: Any = None):
        if fullname in MODULES:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        self.used.add(spec.name)
        return MODULES[spec.name]()

    def exec_module(self, module: types.ModuleType) -> None:
        parent, _, child = module.__name__.rpartition(".")
        if parent in sys.modules:
            setattr(sys.modules[parent], child, module)

    def marks(self) -> set[str]:
        return {MARK.format(n) for n in self.used}
