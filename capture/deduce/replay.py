"""Rebuild a stored case: the module from its init spec, the inputs from their spec.

Used by the worker for every run after the first, and by repro scripts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from capture.deduce import specs
from capture.deduce.search import construct
from capture.loading.importer import load_class


def build_module(cls: type, spec: dict[str, Any]) -> torch.nn.Module:
    module, _ = construct(cls, spec["init"], spec.get("seed", 0))
    module.train(spec.get("mode", "eval") == "train")
    return module


def build_inputs(spec: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    return specs.materialize_call(spec["inputs"], specs.make_generator(spec.get("seed", 0)))


def build_case(checkout: Path, relpath: str, qualname: str, spec: dict[str, Any],
               stubs: list[str] | None = None) -> tuple[torch.nn.Module, list[Any], dict[str, Any]]:
    """(module, args, kwargs) for a stored case, exactly as the run built them."""
    cls, _ = load_class(Path(checkout), relpath, qualname, stubs)
    module = build_module(cls, spec)
    args, kwargs = build_inputs(spec)
    return module, args, kwargs
