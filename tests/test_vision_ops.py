"""capture/loading/vision_ops.py: torchvision imports where its C++ extension cannot load.

The fixture is a package named torchvision that behaves as PyPI's does beside a
CPU torch: its `_C` extension fails to load (extension.py swallows that) and
its Python then registers a fake kernel for `torchvision::nms` at import, which
fails unless something defined the op. Each probe runs in a fresh interpreter:
op definitions are process-wide.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import git
import pytest

from capture.loading.crawl_env import matching_torchvision

ROOT = Path(__file__).resolve().parents[1]

INIT = '''
import torch
from torchvision import extension
@torch.library.register_fake("torchvision::nms")      # as torchvision/_meta_registrations.py does
def _meta_nms(dets, scores, iou_threshold):
    return dets.new_empty(0, dtype=torch.long)
from torchvision import models
'''
EXTENSION = '''
import torch, os
try:
    torch.ops.load_library(os.path.join(os.path.dirname(__file__), "_C.so"))
    HAS_OPS = True
except OSError:
    HAS_OPS = False
'''
MODELS = '''
import torch
class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)
    def forward(self, x):
        return self.fc(x)
def nms(dets, scores, iou):
    return torch.ops.torchvision.nms(dets, scores, iou)
'''


@pytest.fixture
def fake_vision(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    pkg = site / "torchvision"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(INIT)
    (pkg / "extension.py").write_text(EXTENSION)
    (pkg / "models.py").write_text(MODELS)
    (pkg / "_C.so").write_bytes(b"\x7fELF built against a CUDA torch this machine does not have")
    return site


def _probe(site: Path, code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=120)


def test_without_the_shim_such_a_torchvision_does_not_import(fake_vision: Path) -> None:
    out = _probe(fake_vision, "import torchvision")
    assert out.returncode != 0 and "torchvision::nms" in out.stderr


def test_the_shim_defines_the_missing_ops_and_torchvision_imports(fake_vision: Path) -> None:
    out = _probe(fake_vision, """
        from capture.loading import vision_ops
        assert vision_ops.extension_loads() is False
        defined = vision_ops.install()
        assert "nms" in defined and "deform_conv2d" in defined, defined
        assert vision_ops.install() == defined             # idempotent
        import torch, torchvision
        print(torchvision.models.TinyNet()(torch.ones(1, 4)).shape)
        try:
            torchvision.models.nms(torch.rand(3, 4), torch.rand(3), 0.5)
        except NotImplementedError as e:                   # the op has a schema, no kernel: it says so
            print("no kernel:", "torchvision::nms" in str(e))
    """)
    assert out.returncode == 0, out.stderr
    assert "torch.Size([1, 2])" in out.stdout and "no kernel: True" in out.stdout


def test_the_loader_imports_crawled_code_that_uses_such_a_torchvision_without_a_stub(fake_vision: Path,
                                                                                     tmp_path: Path) -> None:
    repo = tmp_path / "visionuser"
    repo.mkdir()
    (repo / "net.py").write_text("import torchvision\nfrom torchvision.models import TinyNet\n\n\n"
                                 "class Wrapped(TinyNet):\n    pass\n")
    r = git.Repo.init(repo)
    r.index.add(["net.py"])
    r.index.commit("a file that imports torchvision")
    out = _probe(fake_vision, f"""
        from capture.loading.importer import load_class
        cls, stubs = load_class({str(repo)!r}, "net.py", "Wrapped")
        import torchvision
        print("stubs:", stubs, "real:", hasattr(torchvision, "extension"), cls.__mro__[1].__module__)
    """)
    assert out.returncode == 0, out.stderr
    assert "stubs: [] real: True torchvision.models" in out.stdout


def test_nothing_is_defined_where_torchvision_is_absent(tmp_path: Path) -> None:
    out = _probe(tmp_path, """
        import importlib.util, sys
        sys.modules.pop("torchvision", None)
        from capture.loading import vision_ops
        if importlib.util.find_spec("torchvision") is None:
            assert vision_ops.extension_loads() is None and vision_ops.install() == []
        print("ok")
    """)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is None, reason="torchvision is not installed here")
def test_the_installed_torchvision_runs_a_model_through_the_shim(tmp_path: Path) -> None:
    out = _probe(tmp_path, """
        from capture.loading import vision_ops
        vision_ops.install()
        import torch, torchvision
        print(torchvision.models.resnet18().eval()(torch.randn(1, 3, 32, 32)).shape)
    """)
    assert out.returncode == 0, out.stderr
    assert "torch.Size([1, 1000])" in out.stdout


def test_the_matching_torchvision_follows_torchs_minor() -> None:
    assert matching_torchvision("2.13.0+cpu") == "torchvision==0.28.*"
    assert matching_torchvision("2.14.1") == "torchvision==0.29.*"
    with pytest.raises(ValueError):
        matching_torchvision("1.13.1")


def test_setup_installs_a_torchvision_only_where_none_is_installed() -> None:
    from capture.loading.crawl_env import requirements_without_deps
    reqs = requirements_without_deps()
    assert "timm==1.0.31" in reqs and "safetensors==0.8.0" in reqs
    assert any(r.startswith("torchvision==0.") for r in reqs) == (importlib.util.find_spec("torchvision") is None)
