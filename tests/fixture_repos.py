"""Fixture repositories: tiny nn.Modules, each with one known fate.

EXPECTED maps (file, class) to the status a crawl must give it. The tests
build these as real git repositories and crawl them through file:// URLs.
"""
from __future__ import annotations

from pathlib import Path

from tests.gitfixtures import make_repo

MODELS = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    """Needs a 3-channel 4-D image."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        x = F.relu(self.bn(self.conv1(x)))
        return self.fc(x.mean(dim=(2, 3)))


class TokenTagger(nn.Module):
    """Needs int64 token ids below its vocabulary size."""

    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, hidden_size)
        self.norm = nn.LayerNorm(hidden_size)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, input_ids):
        h = self.norm(self.emb(input_ids))
        return self.head(torch.cumsum(h, dim=1))


class TokenGRU(nn.Module):
    """Token ids through a GRU: Dynamo (by default) skips RNN frames, so nothing is captured."""

    def __init__(self, vocab_size, hidden_size):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, hidden_size)
        self.rnn = nn.GRU(hidden_size, hidden_size, batch_first=True)

    def forward(self, input_ids):
        out, _ = self.rnn(self.emb(input_ids))
        return out


class BreaksGraph(nn.Module):
    """A data-dependent branch on .item() plus a print: two graph breaks."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        y = self.lin(x)
        if y.sum().item() > 0:
            print("positive")
            y = y * 2
        return torch.tanh(y)


class CompiledDiffers(nn.Module):
    """Computes something else under torch.compile: a parity failure by construction."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        y = self.lin(x)
        if torch.compiler.is_compiling():
            y = y + 1.0
        return y


class NeedsConfig(nn.Module):
    """Built from a config object read as cfg.x."""

    def __init__(self, config):
        super().__init__()
        self.proj = nn.Linear(config.hidden_size, config.intermediate_size)
        self.out = nn.Linear(config.intermediate_size, config.hidden_size)
        self.act = nn.GELU()

    def forward(self, hidden_states):
        return self.out(self.act(self.proj(hidden_states)))


class DropoutAlways(nn.Module):
    """Dropout forced on, even in eval mode: output depends on the RNG."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        return F.dropout(self.lin(x), p=0.5, training=True)


class RaisesInForward(nn.Module):
    """Its forward always raises."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        raise NotImplementedError("subclasses implement forward")
'''

USES_MISSING = '''
import torch.nn as nn
import not_a_real_package_xyz
from not_a_real_package_xyz.layers import Fancy


class PlainMLP(nn.Module):
    """Its file imports a package that is not installed; this class does not use it."""

    def __init__(self, in_features=16, hidden=32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 4))

    def forward(self, x):
        return self.net(x)


class NeedsFancy(nn.Module):
    """Really uses the missing package: cannot run."""

    def __init__(self):
        super().__init__()
        self.fancy = Fancy(16)

    def forward(self, x):
        return self.fancy(x)
'''

BROKEN_IMPORT = '''
import torch.nn as nn

raise RuntimeError("this module needs a dataset file at import time")


class NeverLoads(nn.Module):
    def forward(self, x):
        return x
'''

SYNTAX_ERROR = '''
import torch.nn as nn

class Broken(nn.Module)
    def forward(self, x):
        return x
'''

EXPECTED = {
    ("models.py", "SmallCNN"): "pass",
    ("models.py", "TokenTagger"): "pass",
    ("models.py", "TokenGRU"): "capture_failed",
    ("models.py", "BreaksGraph"): "pass",
    ("models.py", "CompiledDiffers"): "parity_failed",
    ("models.py", "NeedsConfig"): "pass",
    ("models.py", "DropoutAlways"): "pass",  # rng_dependent: judged under identical RNG, flagged
    ("models.py", "RaisesInForward"): "eager_failed",
    ("extra/uses_missing.py", "PlainMLP"): "pass",
    ("extra/uses_missing.py", "NeedsFancy"): "eager_failed",
    ("extra/broken_import.py", "NeverLoads"): "import_failed",
}

FILES = {
    "models.py": MODELS,
    "extra/__init__.py": "",
    "extra/uses_missing.py": USES_MISSING,
    "extra/broken_import.py": BROKEN_IMPORT,
    "extra/syntax_error.py": SYNTAX_ERROR,
    "README.md": "fixture\n",
}


def make_zoo(root: Path) -> Path:
    """The main fixture repo, as a real git repository; returns its path."""
    return make_repo(root, "zoo", FILES)


# -- the training / dynamic-shapes fixture repo (tests/test_training.py, tests/test_dynamic.py) --

GRAD_MODELS = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class TrainsFine(nn.Module):
    """A small MLP: trains under compile with the same gradients, one graph for every batch size."""

    def __init__(self):
        super().__init__()
        self.lin1 = nn.Linear(16, 32)
        self.norm = nn.LayerNorm(32)
        self.lin2 = nn.Linear(32, 4)

    def forward(self, x):
        return self.lin2(F.gelu(self.norm(self.lin1(x))))


class _DoubleGradWhenCompiled(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, grad):
        # Wrong only under torch.compile: Dynamo traces this backward with is_compiling() true.
        return grad * (4.0 if torch.compiler.is_compiling() else 2.0)


class WrongGradUnderCompile(nn.Module):
    """Forward is right everywhere; the custom backward differs under compile."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        return _DoubleGradWhenCompiled.apply(self.lin(x))


@torch.library.custom_op("gradzoo::scale3", mutates_args=())
def scale3(x: torch.Tensor) -> torch.Tensor:
    return x * 3.0


@scale3.register_fake
def _scale3_fake(x):
    return torch.empty_like(x)


@torch.library.custom_op("gradzoo::scale3_grad", mutates_args=())
def scale3_grad(g: torch.Tensor) -> torch.Tensor:
    return g * 3.0


scale3.register_autograd(lambda ctx, grad: scale3_grad(grad))


class BackwardWontCompile(nn.Module):
    """A custom op whose backward op has no fake (meta) impl: the forward compiles, the backward cannot be traced."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        return scale3(self.lin(x))


class LoopsOverBatch(nn.Module):
    """A Python loop over the batch: Dynamo unrolls it, so every new batch size recompiles."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        return torch.stack([self.lin(x[i]) for i in range(x.shape[0])])


class PairsOnly(nn.Module):
    """Reads the batch as pairs: eager itself rejects an odd batch size."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)

    def forward(self, x):
        return self.lin(x).reshape(x.shape[0] // 2, 2, 16).mean(1)


class DropsOut(nn.Module):
    """nn.Dropout: inactive in eval (inference passes), drawn from the RNG in train mode."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(16, 16)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.lin(x))


class NoWeights(nn.Module):
    """No parameters: nothing to train."""

    def forward(self, x):
        return F.normalize(x, dim=-1) * 2.0
'''

GRAD_FILES = {"gradmodels.py": GRAD_MODELS, "README.md": "training fixture\n"}

EXPECTED_GRAD_INFERENCE = {
    "TrainsFine": "pass", "WrongGradUnderCompile": "pass", "BackwardWontCompile": "pass",
    "LoopsOverBatch": "pass", "PairsOnly": "pass", "DropsOut": "pass", "NoWeights": "pass",
}

# (status, stage, reason) of the --training run.
EXPECTED_TRAINING = {
    "TrainsFine": ("pass", "done", None),
    "WrongGradUnderCompile": ("parity_failed", "backward", None),
    "BackwardWontCompile": ("compile_failed", "backward", None),
    "LoopsOverBatch": ("pass", "done", None),
    "PairsOnly": ("pass", "done", None),
    "DropsOut": ("pass", "done", None),  # rng_dependent, flagged: parity under identical RNG on both sides
    "NoWeights": ("eager_failed", "backward", "no_parameters"),
}

# status of the --dynamic-shapes run, and recompiles at each new batch size (3, 4, 7).
EXPECTED_DYNAMIC = {
    "TrainsFine": ("pass", [1, 0, 0]),
    "LoopsOverBatch": ("pass", [1, 1, 1]),
    "PairsOnly": ("pass", [None, 1, None]),  # eager rejects batch 3 and 7: not the compiler's
}


def make_gradzoo(root: Path) -> Path:
    """The training / dynamic-shapes fixture repo, as a real git repository."""
    return make_repo(root, "gradzoo", GRAD_FILES)
