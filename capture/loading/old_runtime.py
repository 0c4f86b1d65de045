"""numpy and Python behaviours old code relies on that today's versions removed (recorded like stubs).

Why: a crawl environment has numpy 2 and Python 3.11; much of the code it
crawls was written for numpy < 1.24 and Python <= 3.10, and two removals cost
whole projects at import, not just one module:

- `np.float`, `np.int`, `np.bool`, `np.object`, `np.long`, `np.complex`,
  `np.str`, `np.unicode` were aliases of the builtins, removed in numpy 1.24
  (`dtype=np.float` in a class body or a default argument of fairseq's data
  code fails every file that imports it). They are the builtins again.
- Python 3.11 rejects a dataclass field whose default is an instance of an
  unhashable class (any other dataclass: `renderer: State = State()`), where
  3.10 only rejected list, dict and set and kept the instance as a shared
  class-level default. That default is accepted again, as 3.10 did; the
  class itself stays unhashable.

Each is installed once in the sandboxed child (`install`, called by the loader)
and changes nothing until crawled code meets the removal; the first use adds
its mark to the current case's stub list (stub_torch.mark), so a report counts
the cases that depend on it. Marks contain a space: a replay's stub seeding
skips them and the replayed child answers the same way.
"""
from __future__ import annotations

import dataclasses
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


def install() -> None:
    """Patch numpy and dataclasses in this process (idempotent)."""
    if _installed[0]:
        return
    _installed[0] = True
    _install_numpy()
    _install_dataclasses()
