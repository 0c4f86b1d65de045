"""A fixture repo with one module per deducer pattern of issue 19, round 4 (written here, never fetched code).

Each pattern is one a real project wrote and the deducer once got wrong;
EXPECTED is the status `crawl --check eager` must reach, USED the stubs a case
leaned on once imported (results.stubs_used) against STUBS, what its import
asked for (results.stubs). tests/test_deduce_patterns.py crawls it.
"""
from __future__ import annotations

from pathlib import Path

from tests.gitfixtures import make_repo

ABSENT = "graphcrawl_absent_imaging"  # a package no machine has: always a stub

FILES: dict[str, str] = {
    # 1. `self.k_proj.forward(x)`: the layer an input meets, called through .forward (min-dalle style)
    "attn.py": '''
import torch
from torch import nn


class SelfAttention(nn.Module):
    def __init__(self, head_count: int, embed_count: int):
        super().__init__()
        self.head_count = head_count
        self.k_proj = nn.Linear(embed_count, embed_count, bias=False)
        self.q_proj = nn.Linear(embed_count, embed_count, bias=False)

    def forward(self, state):
        keys = self.k_proj.forward(state)
        queries = self.q_proj.forward(state)
        return torch.einsum("bqc,bkc->bqk", queries, keys).softmax(-1)
''',
    # 1b. a padding mask the attention adds un-expanded ([b, 1, 1, k] in real use): its alternatives
    #     must be tried with the sequence input, not only with the best-ranked (a vector)
    "masked.py": '''
import torch
from torch import nn


class MaskedAttention(nn.Module):
    def __init__(self, head_count: int, embed_count: int):
        super().__init__()
        self.head_count = head_count
        self.k_proj = nn.Linear(embed_count, embed_count, bias=False)
        self.q_proj = nn.Linear(embed_count, embed_count, bias=False)

    def forward(self, state, attention_mask):
        keys = self.k_proj(state)
        queries = self.q_proj(state)
        keys = keys.reshape(keys.shape[:2] + (self.head_count, -1))
        queries = queries.reshape(queries.shape[:2] + (self.head_count, -1))
        weights = torch.einsum("bqhc,bkhc->bhqk", queries, keys)
        weights = weights + (1 - attention_mask.to(torch.float32)) * -1e12
        return weights.softmax(-1)
''',
    # 2. a wrapped module annotated nn.Module, called with the input and *args (revlib style)
    "wrap.py": '''
import torch


class Stem(torch.nn.Module):
    def __init__(self, wrapped_module: torch.nn.Module, gamma: float):
        super().__init__()
        self.wrapped_module = wrapped_module
        self.gamma = gamma

    def forward(self, inp, *args, **kwargs):
        return self.wrapped_module(inp * self.gamma, *args, **kwargs)
''',
    # 3. DenseNet's growth_rate: an int channel count, and a size computed from it one call up
    "dense.py": '''
import torch
import torch.nn as nn


class DenseLayer(nn.Sequential):
    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate):
        super().__init__()
        self.add_module("norm1", nn.BatchNorm2d(num_input_features))
        self.add_module("relu1", nn.ReLU(inplace=True))
        self.add_module("conv1", nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, bias=False))
        self.add_module("norm2", nn.BatchNorm2d(bn_size * growth_rate))
        self.add_module("conv2", nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat([x, super().forward(x)], 1)


class DenseBlock(nn.Sequential):
    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate):
        super().__init__()
        for i in range(num_layers):
            self.add_module("layer%d" % (i + 1), DenseLayer(num_input_features + i * growth_rate, growth_rate,
                                                            bn_size, drop_rate))
''',
    # 4. EDSR's MeanShift: torch.Tensor(rgb_mean) wants a sequence, one value per colour channel
    "common.py": '''
import torch
import torch.nn as nn


class MeanShift(nn.Conv2d):
    def __init__(self, rgb_range, rgb_mean, rgb_std, sign=-1):
        super().__init__(3, 3, kernel_size=1)
        std = torch.Tensor(rgb_std)
        self.weight.data = torch.eye(3).view(3, 3, 1, 1) / std.view(3, 1, 1, 1)
        self.bias.data = sign * rgb_range * torch.Tensor(rgb_mean) / std
        for p in self.parameters():
            p.requires_grad = False
''',
    # 4b. torch.Tensor(a, b) and torch.Tensor(n) are the size form: those arguments stay ints
    "sizes.py": '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class NoisyLinear(nn.Module):
    def __init__(self, in_features, out_features, std_init=0.5):
        super().__init__()
        self.weight_mu = nn.Parameter(torch.Tensor(out_features, in_features))
        self.bias_mu = nn.Parameter(torch.Tensor(out_features))
        self.weight_mu.data.uniform_(-0.1, 0.1)
        self.bias_mu.data.zero_()

    def forward(self, x):
        return F.linear(x, self.weight_mu, self.bias_mu)


class ChannelNorm(nn.Module):
    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.gamma = nn.Parameter(torch.Tensor(num_features).uniform_())
        self.beta = nn.Parameter(torch.zeros(num_features))

    def forward(self, x):
        return x * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)
''',
    # 5. a project's own to() that fails on a float attribute (soft-actor-critic style): a cpu case is
    #    built on the cpu and never needs it
    "policy.py": '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class Policy(nn.Module):
    def __init__(self, num_inputs, num_actions, hidden_dim):
        super().__init__()
        self.linear1 = nn.Linear(num_inputs, hidden_dim)
        self.mean = nn.Linear(hidden_dim, num_actions)
        self.action_scale = 1.

    def forward(self, state):
        return torch.tanh(self.mean(F.relu(self.linear1(state)))) * self.action_scale

    def to(self, device):
        self.action_scale = self.action_scale.to(device)
        return super().to(device)
''',
    # 6. stubs: a file importing a missing imaging package for its data code only, and one whose
    #    module really calls the stand-in while it is built
    "data_model.py": f'''
import torch.nn as nn
from {ABSENT} import Image  # the data loader's, never the model's


def load(path):
    return Image.open(path)


class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(x)
''',
    "helper_model.py": f'''
import torch.nn as nn
import {ABSENT} as imaging


class Helped(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        imaging.init_weights(self.fc)  # the stand-in is called: the case depends on it

    def forward(self, x):
        return self.fc(x)
''',
    # a loss fed raw scores: binary_cross_entropy wants probabilities in [0, 1] (fix:unit-range)
    "losses.py": '''import torch.nn as nn
import torch.nn.functional as F


class UncertaintyLoss(nn.Module):
    def __init__(self, alpha=0.5):
        super().__init__()
        self.alpha = alpha

    def forward(self, scores, labels):
        return self.alpha * F.binary_cross_entropy(scores, labels)
''',
    # `filters` reads as a list of sizes; the code casts it (`int(n_filters)`) or hands it on to a
    # helper under another name, whose torch layer takes `out_channels % groups`: a scalar after all
    "filters.py": '''import torch
import torch.nn as nn


class CastConv(nn.Module):
    def __init__(self, in_channels, n_filters, k_size, stride, padding):
        super().__init__()
        self.conv = nn.Conv2d(int(in_channels), int(n_filters), kernel_size=k_size, stride=stride, padding=padding)

    def forward(self, x):
        return self.conv(x)


class CausalConv(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, dilation=1):
        super().__init__()
        self.pad = dilation * (kernel_size - 1)
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, padding=self.pad, dilation=dilation)

    def forward(self, x):
        return self.conv(x)[:, :, :-self.pad]


class GatedDense(nn.Module):
    def __init__(self, in_channels, dilation, filters, kernel_size=2):
        super().__init__()
        self.f = CausalConv(in_channels, filters, kernel_size, dilation=dilation)
        self.g = CausalConv(in_channels, filters, kernel_size, dilation=dilation)

    def forward(self, x):
        return torch.cat((x, torch.tanh(self.f(x)) * torch.sigmoid(self.g(x))), dim=1)
''',
    # pix2pix-era GANs: `if self.gpu_ids: data_parallel(...)`; the case runs on no GPU
    "gan.py": '''import torch.nn as nn


class ParallelDiscriminator(nn.Module):
    def __init__(self, in_ch, out_ch, gpu_ids):
        super().__init__()
        self.gpu_ids = gpu_ids
        self.net = nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.LeakyReLU(0.2))

    def forward(self, x):
        if self.gpu_ids:
            return nn.parallel.data_parallel(self.net, x, self.gpu_ids)
        return self.net(x)
''',
    # mmdet's ResNet family and its copies: the accepted depths are the keys of a class attribute, and
    # the guard (an `if ... not in ...: raise`, or an assert on a module-level table) names them
    "backbones.py": '''import torch.nn as nn

WIDTHS = {"tiny": 8, "small": 16}


class Stage(nn.Sequential):
    def __init__(self, width, blocks):
        super().__init__(*[nn.Conv2d(width, width, 3, padding=1) for _ in range(blocks)])


class ResNet(nn.Module):
    arch_settings = {18: (2, 2), 34: (3, 4)}

    def __init__(self, depth, in_channels=3):
        super().__init__()
        if depth not in self.arch_settings:
            raise KeyError(f"invalid depth {depth} for resnet")
        self.stem = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.stages = nn.Sequential(*[Stage(8, n) for n in self.arch_settings[depth]])

    def forward(self, x):
        return self.stages(self.stem(x))


class Named(nn.Module):
    def __init__(self, arch):
        super().__init__()
        assert arch in WIDTHS.keys(), f"arch must be one of {list(WIDTHS)}, got {arch}"
        self.conv = nn.Conv2d(3, WIDTHS[arch], 1)

    def forward(self, x):
        return self.conv(x)
''',
    # a guard on a list's length: `if len(widths) != self.NUM_STAGES: raise` says how many it wants
    "pyramid.py": '''import torch.nn as nn


class Pyramid(nn.Module):
    NUM_STAGES = 3

    def __init__(self, widths):
        super().__init__()
        if len(widths) != self.NUM_STAGES:
            raise ValueError(f"need {self.NUM_STAGES} widths, got {len(widths)}")
        self.stages = nn.ModuleList(nn.Linear(w, w) for w in widths)

    def forward(self, x):
        return sum(stage(x) for stage in self.stages)
''',
    # a token -> id mapping by name: the embedding is sized by len() and padded at a special token
    "vocab.py": '''import torch.nn as nn


class Tagger(nn.Module):
    def __init__(self, word2ix, hidden=16):
        super().__init__()
        self.emb = nn.Embedding(len(word2ix), hidden, padding_idx=word2ix["[PAD]"])
        self.out = nn.Linear(hidden, 4)

    def forward(self, ids):
        return self.out(self.emb(ids))
''',
}

EXPECTED: dict[tuple[str, str], str] = {
    ("attn.py", "SelfAttention"): "runnable",
    ("masked.py", "MaskedAttention"): "runnable",
    ("wrap.py", "Stem"): "runnable",
    ("dense.py", "DenseLayer"): "runnable",
    ("dense.py", "DenseBlock"): "runnable",
    ("common.py", "MeanShift"): "runnable",
    ("policy.py", "Policy"): "runnable",
    ("sizes.py", "NoisyLinear"): "runnable",
    ("sizes.py", "ChannelNorm"): "runnable",
    ("data_model.py", "Plain"): "runnable",
    ("helper_model.py", "Helped"): "runnable",
    ("losses.py", "UncertaintyLoss"): "runnable",
    ("filters.py", "CastConv"): "runnable",
    ("filters.py", "CausalConv"): "runnable",
    ("filters.py", "GatedDense"): "runnable",
    ("gan.py", "ParallelDiscriminator"): "runnable",
    ("backbones.py", "Stage"): "runnable",
    ("backbones.py", "ResNet"): "runnable",
    ("backbones.py", "Named"): "runnable",
    ("pyramid.py", "Pyramid"): "runnable",
    ("vocab.py", "Tagger"): "runnable",
}
STUBS: dict[tuple[str, str], list[str]] = {
    ("data_model.py", "Plain"): [ABSENT], ("helper_model.py", "Helped"): [ABSENT]}
USED: dict[tuple[str, str], list[str]] = {("helper_model.py", "Helped"): [ABSENT]}


def make_deduce_repo(root: Path) -> Path:
    """The fixture repo, committed (a real git repo the crawl clones)."""
    return make_repo(root, "deducepatterns", FILES)
