"""Torch calls that cannot work here, answered as the crawled code meant them (recorded like stubs).

Why: crawled code was written on a GPU machine and an older torch. Two patterns
cost whole modules on a CPU-only machine though the model itself is fine:

- `.cuda()` on a tensor or module, at module level (`proto = proto.cuda()`), in
  `__init__` or in forward (`x.cuda(non_blocking=True)`): "Torch not compiled
  with CUDA enabled". With no GPU at all the case runs on the cpu anyway, so
  `.cuda()` hands back the tensor or module unchanged.
- `nn.Parameter(torch.full((n,), 0))`: torch < 1.7 made that a float tensor,
  today it is int64 and "Only Tensors of floating point and complex dtype can
  require gradients". An integer Parameter that requires grad can never be
  built, so its data is made the default float dtype, as the code's torch did.

Each is installed once in the sandboxed child (`install`, called by the loader)
and does nothing until crawled code makes the call; the first call adds its
mark to the current case's stub list (`record_into`), so a case that depends on
one says so. Marks contain a space: a replay's stub seeding skips them, and the
replayed child answers the same calls the same way.
"""
from __future__ import annotations

from typing import Any

import torch

CUDA_MARK = "torch.cuda (no GPU: .cuda() kept on cpu)"
INT_PARAM_MARK = "torch.nn.Parameter (integer data made float, as torch < 1.7)"

_sink: list[list[str]] = [[]]
_installed = [False]


def record_into(stubs: list[str]) -> None:
    """Later calls of a patched torch function mark `stubs` (the current case's list)."""
    _sink[0] = stubs


def mark(entry: str) -> None:
    """Add `entry` to the current case's stub list (capture/loading/old_runtime.py marks here too)."""
    stubs = _sink[0]
    if entry not in stubs:
        stubs.append(entry)
        stubs.sort()


def _tensor_cuda(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    mark(CUDA_MARK)
    return self


def _module_cuda(self: torch.nn.Module, device: Any = None) -> torch.nn.Module:
    mark(CUDA_MARK)
    return self


def install() -> None:
    """Patch torch in this process (idempotent). `.cuda()` only where no GPU exists."""
    if _installed[0]:
        return
    _installed[0] = True
    if not torch.cuda.is_available():
        torch.Tensor.cuda = _tensor_cuda  # type: ignore[method-assign,assignment]
        torch.nn.Module.cuda = _module_cuda  # type: ignore[method-assign,assignment]
    original_new = torch.nn.Parameter.__new__

    def parameter_new(cls: type, data: Any = None, requires_grad: bool = True) -> Any:
        if isinstance(data, torch.Tensor) and requires_grad \
                and not (data.is_floating_point() or data.is_complex()):
            mark(INT_PARAM_MARK)
            data = data.to(torch.get_default_dtype())
        return original_new(cls, data, requires_grad)
    torch.nn.Parameter.__new__ = staticmethod(parameter_new)  # type: ignore[method-assign,assignment]
