"""Fixture repos for `crawl --export` (tests/test_export.py): one tiny module per export outcome.

Each module has one behaviour torch.export (torch 2.13) meets in real code;
EXPECTED_EXPORT says where each ends and why. The AOTInductor parity failure
lives in a file of its own: it turns on Inductor's test hook that makes its
C++ relu compute relu(x) + 1 (as tests/triage_fixtures.py does for torch.compile),
and a forked case imports only its own module's file.
"""
from __future__ import annotations

from pathlib import Path

from tests.gitfixtures import make_repo

EXPORT_MODELS = '''
import torch
from torch import nn


class ExportsFine(nn.Module):
    """Exports, runs, round-trips, takes a dynamic batch and compiles with AOTInductor."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        return torch.relu(self.lin(x))


class BranchesOnData(nn.Module):
    """`if y.sum() > 0`: a branch on a tensor's value, a guard on data."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        y = self.lin(x)
        if y.sum() > 0:
            return y * 2
        return y - 1


class ItemAsSize(nn.Module):
    """`.item()` used as a size: non-strict export cannot specialise it; strict (Dynamo) can."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        n = int(x.abs().sum().item()) % 3 + 1
        return self.lin(x).repeat(n, 1)


class InspectsFrames(nn.Module):
    """Python Dynamo will not trace (inspect): strict export fails, non-strict runs it as Python."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        import inspect
        inspect.currentframe()
        return self.lin(x)


@torch.library.custom_op("exportzoo::triple", mutates_args=())
def triple(x: torch.Tensor) -> torch.Tensor:
    return x * 3.0


class CustomOpNoFake(nn.Module):
    """A custom op without a fake (meta) impl: export cannot trace it with fake tensors."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        return triple(self.lin(x))


class Box:
    def __init__(self, t):
        self.t = t


class ReturnsABox(nn.Module):
    """An output that is not a pytree (a plain class holding a tensor)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        y = self.lin(x)
        return y, Box(y)
'''

AOTI_BUG = '''
import torch
from torch import nn

torch._inductor.config.cpp.inject_relu_bug_TESTING_ONLY = "accuracy"


class ReluWrongUnderAOTI(nn.Module):
    """Inductor's test hook makes its C++ relu wrong: every step passes but AOTInductor's parity."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        return torch.relu(self.lin(x))
'''

HANG = '''
import time

import torch
from torch import nn


class HangsWhileExporting(nn.Module):
    """Runs in eager; loops for ever only while torch.export traces it."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        while torch.compiler.is_exporting():
            time.sleep(0.05)
        return self.lin(x)
'''

# (status, stage, export_class, export_strict) of the --export run
EXPECTED_EXPORT = {
    "ExportsFine": ("pass", "done", None, "pass"),
    "BranchesOnData": ("capture_failed", "export", "data_dependent", "data_dependent"),
    "ItemAsSize": ("capture_failed", "export", "data_dependent", "pass"),
    "InspectsFrames": ("pass", "done", None, "unsupported_python"),
    "CustomOpNoFake": ("capture_failed", "export", "no_fake_kernel", "no_fake_kernel"),
    "ReturnsABox": ("capture_failed", "export", "not_pytree", "not_pytree"),
    "ReluWrongUnderAOTI": ("parity_failed", "aoti", None, "pass"),
}


def make_exportzoo(root: Path) -> Path:
    return make_repo(root, "exportzoo", {"exportmodels.py": EXPORT_MODELS, "aotibug.py": AOTI_BUG,
                                         "README.md": "export fixture\n"})


def make_hang_repo(root: Path) -> Path:
    return make_repo(root, "exporthang", {"hang.py": HANG})
