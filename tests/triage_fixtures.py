"""Tiny fixture modules for the triage tests (traces, minifier, no-op forwards, hangs).

Each class has one behaviour, like tests/fixture_repos.py's zoo; they are
crawled for real (bwrap, torch.compile) by tests/test_triage_*.py.
"""
from __future__ import annotations

from pathlib import Path

from tests.gitfixtures import make_repo

MODELS = '''
import torch
import torch.nn as nn


class Fine(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return torch.relu(self.lin(x))


class DiffersAfterBreak(nn.Module):
    """A graph break, then a branch that computes something else under torch.compile."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        y = self.lin(x)
        torch._dynamo.graph_break()
        if torch.compiler.is_compiling():
            y = y + 1.0
        return y * 2


class PassesWithBreak(nn.Module):
    """Passes the backend with a graph break: the break view must count it too."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        y = self.lin(x)
        torch._dynamo.graph_break()
        return y - 1


class Identity(nn.Module):
    """A forward with no tensor operation: nothing to capture, and not Dynamo's failure."""

    def forward(self, x):
        return x


class HangsInForward(nn.Module):
    """Its forward never returns: deduction hangs in it (killed at the deduction budget)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        import time
        time.sleep(3600)
        return self.lin(x)
'''

EXPECTED = {"Fine": "pass", "DiffersAfterBreak": "parity_failed", "PassesWithBreak": "pass",
            "Identity": "capture_failed", "HangsInForward": "timeout"}

# Inductor's own test hook makes its C++ relu compute relu(x) + 1: Inductor's output
# differs from eager, a backend bug by construction (what torch's minifier tests use).
def relu_bug_source(kind: str = "accuracy") -> str:
    """ReluBug under one of the hook's kinds: accuracy, compile_error or runtime_error."""
    return RELU_BUG.replace('"accuracy"', f'"{kind}"', 1)


RELU_BUG = '''
import torch
import torch.nn as nn
import torch._inductor.config

torch._inductor.config.cpp.inject_relu_bug_TESTING_ONLY = "accuracy"


class ReluBug(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return torch.relu(self.lin(x)) * 2
'''


def make_triage_repo(root: Path) -> Path:
    return make_repo(root, "triagezoo", {"models.py": MODELS})


def make_relu_bug_repo(root: Path) -> Path:
    return make_repo(root, "relubug", {"relu_bug.py": RELU_BUG})
