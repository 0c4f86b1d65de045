"""Stand-ins, repo-local resolution, version retries and reason classes, in process (fast).

The same patterns go through the real sandboxed crawl in tests/test_yield_patterns.py;
these pin the mechanisms themselves on small fixture repos written here.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch  # noqa: F401 - loaded before any test, so clean_modules never drops it

from capture import reasons
from capture.loading import repo_paths
from capture.loading.importer import StubModule, load_class
from tests.gitfixtures import make_repo


@pytest.fixture()
def clean_modules():
    """Forget what a load imported, so each test starts from the same sys.modules and sys.path."""
    before_mods, before_path, before_meta = set(sys.modules), list(sys.path), list(sys.meta_path)
    yield
    for name in set(sys.modules) - before_mods:
        sys.modules.pop(name, None)
    sys.path[:], sys.meta_path[:] = before_path, before_meta


def test_stand_ins_survive_the_protocol_calls_of_import_time_code() -> None:
    stub = StubModule("gc_protocol_fixture")
    cls, obj = stub.Thing, stub.Thing()
    for value in (cls, obj):
        assert len(value) == 0 and list(value) == [] and (1 in value) is False
        assert value < 1 and value >= 1 and (value + 1) is not None and (2 * value) is not None
        assert f"{value:>4}|{value:.2f}" and hash(value) == hash(value)
        assert int(value) == 0 and float(value) == 0.0 and [1, 2][value] == 1
    assert bool(cls) is True and bool(obj) is False

    def fn() -> int:
        return 1
    assert stub.register(fn) is fn and stub.registry.register_module()(fn) is fn

    class FromInstance(stub.make_base()):
        pass
    assert isinstance(FromInstance, type)
    assert stub.digit_version("1.0") <= stub.digit_version(stub.__version__) <= stub.digit_version("2.0")


def test_a_name_the_repo_has_resolves_at_the_nearest_ancestor(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "r", {"a/b/model/__init__.py": "", "a/b/c/net.py": "", "model.py": "",
                                     "deep/x/onlyhere/__init__.py": ""})
    assert repo_paths.source_root(repo, "model", repo / "a/b/c/net.py") == repo / "a/b"
    assert repo_paths.source_root(repo, "model", repo / "other.py") == repo
    assert repo_paths.source_root(repo, "onlyhere", repo / "a/b/c/net.py") == repo / "deep/x"
    assert repo_paths.source_root(repo, "not_in_repo", repo / "a/b/c/net.py") is None


def test_a_version_check_gets_the_version_it_names(tmp_path: Path, clean_modules: None) -> None:
    repo = make_repo(tmp_path, "r", {"check.py": (
        "import torch.nn as nn\n"
        "import gc_fixture_dep as dep\n"
        "LO, HI = '1.4.0', '1.6.0'\n"
        "v = tuple(int(p) for p in dep.__version__.split('.'))\n"
        "if not ((1, 4, 0) <= v <= (1, 6, 0)):\n"
        "    raise RuntimeError(f'dep=={dep.__version__} is used but incompatible: install >={LO}, <={HI}')\n"
        "class M(nn.Module):\n"
        "    def forward(self, x):\n"
        "        return x\n")})
    cls, stubs = load_class(repo, "check.py", "M")
    assert cls.__name__ == "M" and stubs == ["gc_fixture_dep"]
    assert sys.modules["gc_fixture_dep"].__version__ == "1.4.0"


def test_a_missing_name_of_a_repo_module_is_stubbed_and_recorded(tmp_path: Path, clean_modules: None) -> None:
    repo = make_repo(tmp_path, "r", {"pkg/__init__.py": "", "pkg/tools.py": "def real():\n    return 1\n",
                                     "pkg/net.py": ("import torch.nn as nn\n"
                                                    "from pkg.tools import real, GoneSinceThisCommit\n"
                                                    "class Net(nn.Module):\n"
                                                    "    def forward(self, x):\n"
                                                    "        return x\n")})
    _, stubs = load_class(repo, "pkg/net.py", "Net")
    assert stubs == ["pkg.tools.GoneSinceThisCommit"]


@pytest.mark.parametrize(("result", "expected"), [
    ({"status": "init_failed", "error_type": "URLError",
      "error_msg": "<urlopen error [Errno -3] Temporary failure in name resolution>"}, "needs_network"),
    ({"status": "eager_failed", "error_type": "NotImplementedError", "error_msg": "",
      "traceback": 'File "/r/m.py", line 9, in forward\n    raise NotImplementedError\n'}, "not_a_model"),
    ({"status": "eager_failed", "error_type": "NotImplementedError",
      "error_msg": "Could not run 'aten::foo' with arguments from the 'CPU' backend",
      "traceback": 'File "/r/m.py", line 9, in forward\n'}, None),
    ({"status": "init_failed", "error_type": "TypeError",
      "error_msg": "Can't instantiate abstract class B with abstract method f"}, "not_a_model"),
    ({"status": "eager_failed", "error_type": "NotImplementedError",
      "error_msg": 'Module [M] is missing the required "forward" function'}, "not_a_model"),
    ({"status": "pass"}, None),
    ({"status": "eager_failed", "error_type": "RuntimeError", "error_msg": "shape mismatch"}, None),
])
def test_reason_classes(result: dict, expected: str | None) -> None:
    assert reasons.classify(result) == expected


def test_a_known_distribution_or_the_importer_itself_is_never_the_repo_s_source_root(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "shadow", {"utils/decorator.py": "from decorator import decorator\n",
                                           "op/torch/onnx.py": "", "op/torch/export.py": "import onnx\n",
                                           "lib/resnet.py": "", "nets/main.py": "import resnet\n"})
    importer = repo / "utils" / "decorator.py"
    assert repo_paths.source_root(repo, "decorator", importer) is None
    assert repo_paths.source_root(repo, "onnx", repo / "op" / "torch" / "export.py") is None
    assert repo_paths.source_root(repo, "resnet", repo / "nets" / "main.py") == (repo / "lib").resolve()


def test_a_package_file_gets_the_dotted_name_its_relative_imports_need(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "pkgname", {"a/b/__init__.py": "", "a/b/net.py": "from .layers import x\n",
                                            "ns/deep/mod.py": "from ..up import y\n"})
    assert repo_paths.package_name(repo, repo / "a" / "b" / "net.py") == ("b.net", (repo / "a").resolve())
    assert repo_paths.package_name(repo, repo / "ns" / "deep" / "mod.py") == ("ns.deep.mod", repo.resolve())
