"""A fixture repo with one module per import pattern of issue 19 and of the patterns a fresh
sample of projects showed after it (written here, never fetched code).

Each entry of EXPECTED is the status a real `crawl --check eager` records (the
replay, an inference run with `--backend eager`, reaches "pass" where this
says "runnable"); STUBS is what each case must record, skipped statements
included. tests/test_import_patterns.py crawls it.
"""
from __future__ import annotations

from pathlib import Path

import numpy

from capture.loading import old_runtime
from tests.gitfixtures import make_repo

_LINEAR = '''
class {name}(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(x)
'''

FILES: dict[str, str] = {
    # 1a. a repo file named like a distribution imports that distribution: never itself
    "utils/__init__.py": "",
    "utils/decorator.py": "import torch.nn as nn\nfrom decorator import decorator  # the PyPI package\n"
                          + _LINEAR.format(name="Decorated"),
    # 1b. a distribution's name nested deep in the tree (`op/torch/onnx.py`) is not that distribution
    "op/__init__.py": "",
    "op/torch/__init__.py": "",
    "op/torch/onnx.py": "from .symbolic import helper  # noqa: F401 - this package's own\n",
    "op/torch/export.py": "import torch.nn as nn\nimport onnx  # the distribution: installed or a stub\n"
                          + _LINEAR.format(name="Exportable"),
    # 2. top-level statements that fail: a torch version assertion, a join on None, a file not shipped
    "legacy/settings.py": '''
import os
import torch

major, minor = (int(v) for v in torch.__version__.split(".")[:2])
assert major == 0 and minor >= 4, "this code needs torch 0.4"
ROOT = None
DATA = os.path.join(ROOT, "data")
with open(os.path.join(os.path.dirname(__file__), "labels.txt")) as f:
    LABELS = f.read().split()
WIDTH = 8
''',
    "legacy/model.py": "import torch.nn as nn\nimport settings\n" + '''
class Legacy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(settings.WIDTH, settings.WIDTH)

    def forward(self, x):
        return self.fc(x)
''',
    # 3. a file of a package imported by its bare name by a sibling: its relative imports need the package
    "nets/__init__.py": "",
    "nets/blocks.py": "import torch.nn as nn\n" + _LINEAR.format(name="Block"),
    "nets/resnet.py": "from .blocks import Block  # noqa: F401\n",
    "nets/main.py": "import torch.nn as nn\nimport resnet  # the sibling, by its bare name\n" + '''
class Main(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = resnet.Block()

    def forward(self, x):
        return self.block(x)
''',
    # 4. APIs torch removed: torch._six, torch._utils._accumulate
    "old_api.py": '''
import torch.nn as nn
from torch._six import container_abcs, string_classes
from torch._utils import _accumulate

assert isinstance("name", string_classes) and issubclass(dict, container_abcs.Mapping)
OFFSETS = list(_accumulate([1, 2, 3]))


class SixUser(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, OFFSETS[-1] + 2)

    def forward(self, x):
        return self.fc(x)
''',
    # Round 4, from a fresh sample of projects. 5. a stub base beside metaclass=ABCMeta (mm* backbones)
    "mmstyle/__init__.py": "",
    "mmstyle/base.py": """
from abc import ABCMeta, abstractmethod

import torch.nn as nn
from zooengine.model import BaseModule  # not installed: a stub


class BaseBackbone(BaseModule, metaclass=ABCMeta):
    @abstractmethod
    def forward(self, x):
        pass
""" + _LINEAR.format(name="Head"),
    # 6. a registry decorator that rejects a class whose base is a stub kills the file at import
    "mmstyle/registry.py": """
import torch.nn as nn


class Registry:
    def register(self, cls):
        if not issubclass(cls, nn.Module):
            raise TypeError("module must be a child of nn.Module, but got {}".format(cls))
        return cls


BACKBONES = Registry()
""",
    "mmstyle/nets.py": """import torch.nn as nn
from zooengine.cnn import VGG

from mmstyle.registry import BACKBONES


@BACKBONES.register
class SSD(VGG):
    pass


@BACKBONES.register
class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(x)
""",
    # 7. numpy's removed aliases (np.float) and 8. Python 3.11's stricter dataclass defaults
    "old_runtime_user.py": """from dataclasses import dataclass

import numpy as np
import torch.nn as nn


@dataclass
class State:
    width: int = 8


@dataclass
class Config:
    state: State = State()


class Quant(nn.Module):
    scale_dtype = np.float

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(Config().state.width, 8)

    def forward(self, x):
        return self.fc(x) * self.scale_dtype(2)
""",
    # 9. a vendored copy named like its PyPI package, nested in the repo's own package
    "flowlib/__init__.py": "",
    "flowlib/transforms/__init__.py": "from flowlib.transforms.UMNN.normalizer import Normalizer  # noqa: F401\n",
    "flowlib/transforms/UMNN/__init__.py": "from flowlib.transforms.UMNN.normalizer import Normalizer  # noqa: F401\n",
    "flowlib/transforms/UMNN/normalizer.py": "import torch.nn as nn\nfrom UMNN import NeuralIntegral  # noqa: F401 - PyPI UMNN\n"
                                             + _LINEAR.format(name="Normalizer"),
    "flowlib/transforms/linear.py": "import torch.nn as nn\nimport flowlib.transforms  # noqa: F401 - runs UMNN's __init__\n"
                                    + _LINEAR.format(name="FlowLinear"),
    # 10. a file `zoo/utils.py` nearer the case file than the root package `utils/` it imports from
    "utils/repository.py": "class Repository:\n    pass\n",
    "zoo/__init__.py": "",
    "zoo/utils.py": "HELPER = 1\n",
    "zoo/registry.py": "from utils.repository import Repository\n\nMODELS = Repository()\n",
    "zoo/backbone/__init__.py": "",
    "zoo/backbone/net.py": "import torch.nn as nn\n\nfrom zoo.registry import MODELS  # noqa: F401\n"
                           + _LINEAR.format(name="ZooNet"),
    # 11. a missing package behind `except ImportError: raise ImportError("please install")`
    "needs_apex.py": """import torch.nn as nn

try:
    from apexzoo import amp  # noqa: F401
except ImportError:
    raise ImportError("Please install apexzoo to run this example.")
""" + _LINEAR.format(name="Mixed"),
    # 12. a missing package whose name begins the repo's own (`mmdet` and `mmdet3d/ops/conv.py`)
    "mmdet3dzoo/__init__.py": "",
    "mmdet3dzoo/ops/__init__.py": "",
    "mmdet3dzoo/ops/helpers.py": "WIDTH = 8\n",
    "mmdet3dzoo/ops/conv.py": "import torch.nn as nn\nimport mmdet3d  # noqa: F401 - not installed\nfrom .helpers import WIDTH\n"
                              + _LINEAR.format(name="SparseConv").replace("8, 8", "WIDTH, WIDTH"),
    # 13. Python 2 statements (`print x`) in a function and the `__main__` block: the file does not parse
    "py2_model.py": "import torch.nn as nn\n" + _LINEAR.format(name="Py2Net") + '''

def report(net):
    print "parameters:", sum(p.numel() for p in net.parameters())


if __name__ == "__main__":
    print Py2Net()
''',
    # 14. a skipped top-level statement's names (a template read from a data file the repo does not
    # ship) are imported by another file: importing works, only a use of them fails
    "meshlib/__init__.py": "",
    "meshlib/templates.py": """import numpy as np


def load_template(path):
    data = np.load(path)
    return data["edges"], data["faces"]


EDGES, FACES = load_template("data/sphere_642.npz")
""",
    "meshlib/heads.py": "import torch.nn as nn\nfrom meshlib.templates import EDGES, FACES, load_template  # noqa: F401\n"
                        + _LINEAR.format(name="MeshHead") + """

class MeshDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, len(EDGES))

    def forward(self, x):
        return self.fc(x)
""",
    # 16. a name a Python 2 statement defines (skipped: it does not parse), imported by another file
    "py2_user.py": "import torch.nn as nn\nfrom py2_model import report  # noqa: F401\n" + _LINEAR.format(name="Py2User"),
    # 17. Python 2's `/` on ints: a layer size of 16.0
    "py2_division.py": """import torch.nn as nn


class Bottleneck(nn.Module):
    def __init__(self, in_channels=8, out_channels=16, ratio=4):
        super().__init__()
        mid = out_channels / ratio
        self.reduce = nn.Conv2d(in_channels, mid, kernel_size=1)
        self.bn = nn.BatchNorm2d(mid)
        self.expand = nn.Conv2d(mid, out_channels, kernel_size=1)

    def forward(self, x):
        return self.expand(self.bn(self.reduce(x)))
""",
    # 18. a copy of an installed distribution in a folder that is no identifier (FOTS ships
    # `vision-0.9.0/torchvision/`): its relative imports stay in the copy, the installed one keeps its name
    "third_party/sqlite-utils-3.0/sqlite_utils/__init__.py": "WIDTH = 8\n",
    "third_party/sqlite-utils-3.0/sqlite_utils/nets/__init__.py": "",
    "third_party/sqlite-utils-3.0/sqlite_utils/nets/blocks.py": """import torch.nn as nn

import sqlite_utils  # the installed sqlite-utils, not this copy
from .. import WIDTH


class VendoredBlock(nn.Module):
    def __init__(self):
        super().__init__()
        assert hasattr(sqlite_utils, "Database")
        self.fc = nn.Linear(WIDTH, WIDTH)

    def forward(self, x):
        return self.fc(x)
""",
}

TEMPLATE_SKIPPED = "skipped:meshlib/templates.py:9"  # EDGES, FACES = load_template(<missing file>)
PY2_SKIPPED = ["skipped:py2_model.py:12", "skipped:py2_model.py:16"]  # `def report`, `if __name__`
DECORATOR_SKIPPED = "skipped:mmstyle/nets.py:8"  # `class SSD(VGG)` defined without its decorator
SKIPPED = ["skipped:legacy/settings.py:6", "skipped:legacy/settings.py:8", "skipped:legacy/settings.py:9"]

EXPECTED: dict[tuple[str, str], str] = {
    ("utils/decorator.py", "Decorated"): "runnable",
    ("op/torch/export.py", "Exportable"): "runnable",
    ("legacy/model.py", "Legacy"): "runnable",
    ("nets/blocks.py", "Block"): "runnable",
    ("nets/main.py", "Main"): "runnable",
    ("old_api.py", "SixUser"): "runnable",
    ("mmstyle/base.py", "Head"): "runnable",
    ("mmstyle/nets.py", "Tiny"): "runnable",
    ("old_runtime_user.py", "Quant"): "runnable",
    ("flowlib/transforms/UMNN/normalizer.py", "Normalizer"): "runnable",
    ("flowlib/transforms/linear.py", "FlowLinear"): "runnable",
    ("zoo/backbone/net.py", "ZooNet"): "runnable",
    ("needs_apex.py", "Mixed"): "runnable",
    ("mmdet3dzoo/ops/conv.py", "SparseConv"): "runnable",
    ("py2_model.py", "Py2Net"): "runnable",
    ("meshlib/heads.py", "MeshHead"): "runnable",
    ("meshlib/heads.py", "MeshDecoder"): "init_failed",
    ("py2_user.py", "Py2User"): "runnable",
    ("py2_division.py", "Bottleneck"): "runnable",
    ("third_party/sqlite-utils-3.0/sqlite_utils/nets/blocks.py", "VendoredBlock"): "runnable",
}


def stubs(installed: set[str]) -> dict[tuple[str, str], list[str]]:
    """What each case records, given which of decorator/onnx this environment has installed."""
    return {
        ("utils/decorator.py", "Decorated"): [] if "decorator" in installed else ["decorator"],
        ("op/torch/export.py", "Exportable"): [] if "onnx" in installed else ["onnx"],
        ("legacy/model.py", "Legacy"): SKIPPED,
        ("nets/blocks.py", "Block"): [],
        ("nets/main.py", "Main"): [],
        ("old_api.py", "SixUser"): ["torch._six (compat shim)", "torch._utils._accumulate (compat shim)"],
        ("mmstyle/base.py", "Head"): ["zooengine"],
        ("mmstyle/nets.py", "Tiny"): [DECORATOR_SKIPPED, "zooengine"],
        ("old_runtime_user.py", "Quant"): [old_runtime.DATACLASS_MARK]
        + ([] if "float" in numpy.__dict__ else [old_runtime.NUMPY_MARK.format("float")]),
        ("flowlib/transforms/UMNN/normalizer.py", "Normalizer"): ["UMNN"],
        ("flowlib/transforms/linear.py", "FlowLinear"): ["UMNN"],
        ("zoo/backbone/net.py", "ZooNet"): [],
        ("needs_apex.py", "Mixed"): ["apexzoo"],
        ("mmdet3dzoo/ops/conv.py", "SparseConv"): ["mmdet3d"],
        ("py2_model.py", "Py2Net"): PY2_SKIPPED,
        ("meshlib/heads.py", "MeshHead"): [TEMPLATE_SKIPPED],
        ("meshlib/heads.py", "MeshDecoder"): [TEMPLATE_SKIPPED],
        ("py2_user.py", "Py2User"): PY2_SKIPPED,
        ("py2_division.py", "Bottleneck"): [old_runtime.INT_DIVISION_MARK],
        ("third_party/sqlite-utils-3.0/sqlite_utils/nets/blocks.py", "VendoredBlock"): [],
    }


def make_import_repo(root: Path) -> Path:
    return make_repo(Path(root), "importzoo", FILES)
