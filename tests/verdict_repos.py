"""Fixture repos for verdicts that must not depend on load or luck (issue 16).

- verdictzoo: a module whose compiled output is wrong on its first run only
  (a marker file in its scratch), one that is wrong every time, and one whose
  forward does no tensor operation.
- burnzoo: a module whose Inductor compile burns a fixed amount of CPU (a
  post-grad pass that spins on process time), so a small CPU budget ends it at
  compile and a generous one lets it pass however busy the machine is.
"""
from __future__ import annotations

from pathlib import Path

from tests.gitfixtures import make_repo

VERDICT_MODELS = '''
import os

import torch
import torch.nn as nn

# cwd is the case's scratch directory: the first child of a case finds no marker, its rerun does
FIRST_RUN = not os.path.exists("first-run.marker")
if FIRST_RUN:
    open("first-run.marker", "w").close()


class WrongOnFirstRunOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        y = self.lin(x)
        if torch.compiler.is_compiling() and FIRST_RUN:
            return y + 1
        return y


class WrongEveryTime(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        y = self.lin(x)
        if torch.compiler.is_compiling():
            return y + 1
        return y


class ChangesEveryCall(nn.Module):
    """Eager gives another output for the same seed: nothing can judge the compiled side."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.lin(x) * self.calls


class ReturnsInput(nn.Module):
    """A forward with no tensor operation at all: nothing for Dynamo to capture."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x
'''

BURN_MODELS = '''
import time

import torch
import torch.nn as nn

BURN_CPU_S = 15.0


def burn(graph):
    """An Inductor post-grad pass that spins for BURN_CPU_S seconds of this process's CPU."""
    start = time.process_time()
    while time.process_time() - start < BURN_CPU_S:
        pass


# only Inductor runs post-grad passes: capture (the eager counting backend) never burns
torch._inductor.config.post_grad_custom_post_pass = burn


class BurnsAtCompile(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return torch.relu(self.lin(x))
'''


def make_verdictzoo(root: Path) -> Path:
    return make_repo(root, "verdictzoo", {"models.py": VERDICT_MODELS})


def make_burnzoo(root: Path) -> Path:
    return make_repo(root, "burnzoo", {"burn.py": BURN_MODELS})
