"""A fixture repo with one module per import pattern of issue 19 (written here, never fetched code).

Each entry of EXPECTED is the status a real `crawl --check eager` records (the
replay, an inference run with `--backend eager`, reaches "pass" where this
says "runnable"); STUBS is what each case must record, skipped statements
included. tests/test_import_patterns.py crawls it.
"""
from __future__ import annotations

from pathlib import Path

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
}

SKIPPED = ["skipped:legacy/settings.py:6", "skipped:legacy/settings.py:8", "skipped:legacy/settings.py:9"]

EXPECTED: dict[tuple[str, str], str] = {
    ("utils/decorator.py", "Decorated"): "runnable",
    ("op/torch/export.py", "Exportable"): "runnable",
    ("legacy/model.py", "Legacy"): "runnable",
    ("nets/blocks.py", "Block"): "runnable",
    ("nets/main.py", "Main"): "runnable",
    ("old_api.py", "SixUser"): "runnable",
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
    }


def make_import_repo(root: Path) -> Path:
    return make_repo(Path(root), "importzoo", FILES)
