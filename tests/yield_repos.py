"""A fixture repo with one module per yield pattern of issue 10 (written here, never fetched code).

Each entry of EXPECTED is (status, reason) as a real crawl with `--backend eager`
must record it; the tests in tests/test_yield_patterns.py also check the stubs
and rules each case records.
"""
from __future__ import annotations

from pathlib import Path

from tests.gitfixtures import make_repo

FILES: dict[str, str] = {
    # 1. a package below the repo root, imported as its scripts see it (`from model import common`)
    "src/train/model/__init__.py": "",
    "src/train/model/common.py": '''
import torch.nn as nn


def default_conv(in_channels, out_channels, kernel_size):
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)


class ResBlock(nn.Module):
    """8. a factory argument: `conv` is called with three args; the residual needs its padding."""

    def __init__(self, conv, n_feats, kernel_size):
        super().__init__()
        self.body = conv(n_feats, n_feats, kernel_size)

    def forward(self, x):
        return x + self.body(x)
''',
    "src/train/model/net.py": '''
import torch.nn as nn
from model import common


class EDSRLike(nn.Module):
    def __init__(self, conv=common.default_conv):
        super().__init__()
        self.head = conv(3, 8, 3)
        self.body = common.ResBlock(conv, 8, 3)

    def forward(self, x):
        return self.body(self.head(x))
''',
    # 2. a compiled extension never built: `from mylib import _C` with only csrc/ beside it,
    #    a vendored package whose `_ext` was never compiled, and a JIT cpp_extension.load at import
    "mylib/__init__.py": "from mylib import _C\nfrom .layers import Lin\n",
    "mylib/csrc/ops.cpp": "// never built\n",
    "mylib/layers.py": '''
import torch.nn as nn


class Lin(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(x)
''',
    "third_party/vend/__init__.py": "",
    "third_party/vend/ops/__init__.py": "from ._ext import roi_pool\n",
    "third_party/vend/ops/src/roi_pool.cu": "// never built\n",
    "third_party/vend/ops/layers.py": '''
import torch.nn as nn
from . import roi_pool  # noqa: F401 - from the never-built extension


class Pooled(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(2)

    def forward(self, x):
        return self.pool(x)
''',
    "jit/model.py": '''
import os
import torch.nn as nn
from torch.utils.cpp_extension import load

_here = os.path.dirname(__file__)
_ops = load(name="fused_ops", sources=[os.path.join(_here, "fused.cu")])


class JitUser(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(x)
''',
    "jit/fused.cu": "// needs nvcc\n",
    # 3 + 4. stand-ins under import-time protocol calls and version checks
    "vend_checks.py": '''
import torch.nn as nn
import mmcv_gc_fixture as mmcv
from mmcv_gc_fixture import digit_version
import wonky_gc_fixture as wonky

# mmcv-style range assert over the stub's own comparison objects
assert digit_version("1.3.0") <= digit_version(mmcv.__version__) <= digit_version("1.8.0")

# the importing code's own parser: a real tuple compare against the stub's version
def _dv(s):
    return tuple(int(p) for p in s.split(".")[:2])

MIN_VERSION, MAX_VERSION = "2.0.0", "2.2.0"
if not (_dv(MIN_VERSION) <= _dv(mmcv.__version__) <= _dv(MAX_VERSION)):
    raise ImportError(f"MMCV=={mmcv.__version__} is used but incompatible. "
                      f"Please install mmcv>={MIN_VERSION}, <={MAX_VERSION}.")

N = len(wonky.TABLE) + wonky.SIZE * 2 - 1
LABEL = f"{wonky.thing:>4}|{wonky.ratio:.2f}"
KEYS = {wonky.key: 1}
for _ in wonky.items:
    pass
if wonky.level > 3 or wonky.level <= 3:
    pass


@wonky.register
class Doubler(nn.Module):
    def forward(self, x):
        return x * 2


@wonky.registry.register_module()
class Tripler(nn.Module):
    def forward(self, x):
        return x * 3


class Mixed(nn.Module, wonky.Mixin):
    def __init__(self):
        nn.Module.__init__(self)
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x)


class FromFactory(wonky.make_base()):
    pass
''',
    # 6. weights downloaded at construction (the URL is loopback: nothing leaves the machine)
    "hub.py": '''
import torch
import torch.nn as nn

URL = "http://127.0.0.1:9/weights.pth"


class SkipsPretrained(nn.Module):
    def __init__(self, num_classes=4, pretrained=True):
        super().__init__()
        self.fc = nn.Linear(16, num_classes)
        if pretrained:
            self.load_state_dict(torch.hub.load_state_dict_from_url(URL))

    def forward(self, x):
        return self.fc(x)


class AlwaysDownloads(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)
        self.load_state_dict(torch.hub.load_state_dict_from_url(URL))

    def forward(self, x):
        return self.fc(x)
''',
    # 7. abstract bases and modules without forward
    "bases.py": '''
import abc
import torch.nn as nn


class BaseHead(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x):
        raise NotImplementedError


class NoForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)


class AbstractBackbone(nn.Module, abc.ABC):
    @abc.abstractmethod
    def features(self, x):
        ...

    def forward(self, x):
        return self.features(x)
''',
    # 8. a module instance as constructor argument (Informer's EncoderLayer(attention, d_model))
    "models/__init__.py": "",
    "models/attn.py": '''
import torch
import torch.nn as nn


class FullAttention(nn.Module):
    def __init__(self, scale=None):
        super().__init__()
        self.scale = scale

    def forward(self, queries, keys, values, attn_mask=None):
        scores = torch.softmax(queries @ keys.transpose(-1, -2), dim=-1)
        return scores @ values, scores
''',
    "models/encoder.py": '''
import torch.nn as nn


class EncoderLayer(nn.Module):
    def __init__(self, attention, d_model):
        super().__init__()
        self.attention = attention
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x, attn_mask=None):
        y, _ = self.attention(x, x, x, attn_mask=attn_mask)
        return self.proj(x + y)
''',
    "models/model.py": "from models.attn import FullAttention\nfrom models.encoder import EncoderLayer\n",
    # 8. an argument stored on self and called later with one input: a layer, not a number
    "wrappers.py": '''
import torch.nn as nn


class PreNormResidual(nn.Module):
    def __init__(self, dim, wrapped_thing):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.inner = wrapped_thing

    def forward(self, x):
        return x + self.inner(self.norm(x))
''',
    # 9. code written on a GPU machine and an older torch: `.cuda()` at import, in __init__ and in
    #    forward; `nn.Parameter(torch.full((n,), 0))` (float before torch 1.7); a `device` argument
    "gpu_era.py": '''
import torch
import torch.nn as nn

OFFSET = torch.ones(1).cuda()


class CudaEverywhere(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.cuda()

    def forward(self, x):
        return self.fc(x.cuda(non_blocking=True)) + OFFSET
''',
    "old_torch.py": '''
import torch
import torch.nn as nn


class FullBias(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.bias = nn.Parameter(torch.full((features,), 0))

    def forward(self, x):
        return x + self.bias


class GridOnDevice(nn.Module):
    def __init__(self, W, H, device):
        super().__init__()
        self.grid = torch.zeros(H, W, device=device)

    def forward(self, img):
        return img * self.grid
''',
    # 11. a name the repo's package forgot to export (`from .layers import Gated` where layers/__init__.py
    #     lacks it but layers/gated.py defines it): the repo's own class, never a stub
    "exports/__init__.py": "",
    "exports/layers/__init__.py": "from .norm import Norm\n",
    "exports/layers/norm.py": "import torch.nn as nn\n\n\nclass Norm(nn.LayerNorm):\n    pass\n",
    "exports/layers/gated.py": '''
import torch.nn as nn


class Gated(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, 2 * dim)
        self.glu = nn.GLU()

    def forward(self, x):
        return self.glu(self.fc(x))
''',
    "exports/net.py": '''
import torch.nn as nn
from .layers import Norm, Gated


class GatedNet(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.norm = Norm(dim)
        self.gated = Gated(dim)

    def forward(self, x):
        return self.gated(self.norm(x))
''',
    # 10. input-size relations: a residual block whose padding defaults to 0 (x + conv(conv(x))
    #     only adds up with padding kernel // 2), and a conv applied to x[:, 0] (a 5-D input)
    "blocks.py": '''
import torch
import torch.nn as nn


class ZeroPadResidual(nn.Module):
    def __init__(self, in_planes, out_planes, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding)
        self.conv2 = nn.Conv2d(out_planes, out_planes, kernel_size, 1, padding)

    def forward(self, x):
        return torch.relu(self.conv2(torch.relu(self.conv1(x))) + x)


class RealImagConv(nn.Module):
    def __init__(self, in_channel, out_channel, kernel_size):
        super().__init__()
        self.conv_re = nn.Conv2d(in_channel, out_channel, kernel_size)
        self.conv_im = nn.Conv2d(in_channel, out_channel, kernel_size)

    def forward(self, x):  # [batch, 2 (real, imaginary), channels, H, W]
        real = self.conv_re(x[:, 0]) - self.conv_im(x[:, 1])
        imag = self.conv_re(x[:, 1]) + self.conv_im(x[:, 0])
        return torch.stack((real, imag), dim=1)


class UpWithSkip(nn.Module):
    """A U-Net up block: the skip input has twice x's size and the channels conv2 has left."""

    def __init__(self, inChannels, outChannels):
        super().__init__()
        self.conv1 = nn.Conv2d(inChannels, outChannels, 3, padding=1)
        self.conv2 = nn.Conv2d(2 * outChannels, outChannels, 3, padding=1)

    def forward(self, x, skpCn):
        x = nn.functional.interpolate(x, scale_factor=2, mode="bilinear")
        x = torch.relu(self.conv1(x))
        return torch.relu(self.conv2(torch.cat((x, skpCn), 1)))


class UpPadded(nn.Module):
    """Upsample x1, pad it to x2's size, concatenate: in_channels is only ever used via an int op."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.mid = in_channels // 2

    def forward(self, x1, x2):
        x1 = self.up(x1)
        dy = x2.size()[2] - x1.size()[2]
        dx = x2.size()[3] - x1.size()[3]
        x1 = nn.functional.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([x2, x1], dim=1))


class CheckedInput(nn.Module):
    """Forward checks its input against the constructor's sizes and says nothing useful."""

    def __init__(self, n_channels, lookback, n_assets):
        super().__init__()
        self.n_channels, self.lookback, self.n_assets = n_channels, lookback, n_assets
        self.linear = nn.Linear(n_channels * lookback * n_assets, n_assets)

    def forward(self, x):
        if x.shape[1:] != (self.n_channels, self.lookback, self.n_assets):
            raise ValueError("Input x has incorrect shape {}".format(x.shape))
        return self.linear(x.view(len(x), -1))
''',
    # shapes of hostile modules that once escaped the checks as a worker "crash"
    "hostile_shapes.py": '''import torch.nn as nn


class NoModuleInit(nn.Module):
    """Never calls nn.Module.__init__: `.train()` meets no _modules."""

    def __init__(self, weight=2.0):
        self.weight = weight

    def forward(self, x):
        return x * self.weight


class ShapelessPatch(nn.Module):
    """A conv whose kernel_size is no tuple of ints (`to_2tuple` from a stubbed timm)."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(3, 8, 4, 4)
        self.proj.kernel_size = ()

    def forward(self, x):
        return self.proj(x)
''',
    # forwards that return result objects: compared on the tensors they hold (backend/parity.plain)
    "result_objects.py": '''import dataclasses

import torch
import torch.nn as nn
from torch.distributions import Independent, Normal


class GaussianHead(nn.Module):
    def __init__(self, in_size=8, action_size=4):
        super().__init__()
        self.mu = nn.Linear(in_size, action_size)
        self.log_std = nn.Parameter(torch.zeros(action_size))

    def forward(self, x):
        mean = self.mu(x)
        return Independent(Normal(mean, self.log_std.exp().expand_as(mean)), 1)


class ActionValue:
    def __init__(self, q_values):
        self.q_values = q_values
        self.n_actions = q_values.shape[-1]


class QHead(nn.Module):
    def __init__(self, in_size=8, n_actions=3):
        super().__init__()
        self.q = nn.Linear(in_size, n_actions)

    def forward(self, x):
        return ActionValue(self.q(x))


@dataclasses.dataclass
class EncoderOutput:
    hidden: torch.Tensor
    mask: torch.Tensor | None = None


class Encoder(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        return EncoderOutput(torch.tanh(self.proj(x)))


class LazyProduct:
    """A deferred computation: holds its input and the module that would compute it."""

    def __init__(self, x, kernel):
        self.x, self.kernel = x, kernel


class LazyKernel(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.kernel = nn.Linear(d, d)

    def forward(self, x):
        return LazyProduct(x, self.kernel)
''',
}

EXPECTED: dict[tuple[str, str], tuple[str, str | None]] = {
    ("src/train/model/common.py", "ResBlock"): ("pass", None),
    ("src/train/model/net.py", "EDSRLike"): ("pass", None),
    ("mylib/layers.py", "Lin"): ("pass", None),
    ("third_party/vend/ops/layers.py", "Pooled"): ("pass", None),
    ("jit/model.py", "JitUser"): ("pass", None),
    ("vend_checks.py", "Doubler"): ("pass", None),
    ("vend_checks.py", "Tripler"): ("pass", None),
    ("vend_checks.py", "Mixed"): ("pass", None),
    ("hub.py", "SkipsPretrained"): ("pass", None),
    ("hub.py", "AlwaysDownloads"): ("init_failed", "needs_network"),
    ("bases.py", "BaseHead"): ("eager_failed", "not_a_model"),
    ("bases.py", "NoForward"): ("eager_failed", "not_a_model"),
    ("bases.py", "AbstractBackbone"): ("init_failed", "not_a_model"),
    ("models/attn.py", "FullAttention"): ("pass", None),
    ("models/encoder.py", "EncoderLayer"): ("pass", None),
    ("wrappers.py", "PreNormResidual"): ("pass", None),
    ("gpu_era.py", "CudaEverywhere"): ("pass", None),
    ("old_torch.py", "FullBias"): ("pass", None),
    ("old_torch.py", "GridOnDevice"): ("pass", None),
    ("blocks.py", "ZeroPadResidual"): ("pass", None),
    ("blocks.py", "RealImagConv"): ("pass", None),
    ("blocks.py", "UpWithSkip"): ("pass", None),
    ("blocks.py", "CheckedInput"): ("pass", None),
    ("blocks.py", "UpPadded"): ("pass", None),
    ("exports/layers/norm.py", "Norm"): ("pass", None),
    ("exports/layers/gated.py", "Gated"): ("pass", None),
    ("exports/net.py", "GatedNet"): ("pass", None),
    ("hostile_shapes.py", "NoModuleInit"): ("init_failed", None),
    ("hostile_shapes.py", "ShapelessPatch"): ("pass", None),
    ("result_objects.py", "GaussianHead"): ("pass", None),
    ("result_objects.py", "QHead"): ("pass", None),
    ("result_objects.py", "Encoder"): ("pass", None),
    ("result_objects.py", "LazyKernel"): ("eager_failed", None),
}


def make_yield_repo(root: Path) -> Path:
    return make_repo(Path(root), "yieldzoo", FILES)
