"""crawler.scan on real git checkouts: what counts as an nn.Module, and what the scan survives."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from crawler.scan import ScanResult, is_torch_module_name, scan_checkout
from tests.gitfixtures import make_repo

ALIASES = '''
import torch
import torch.nn as tnn
from torch import nn as N
from torch import nn
from torch.nn import Module
from torch.nn import Module as M
from torch.nn import Linear
import torch.nn.modules.conv as conv_mod
from abc import ABC
Base = nn.Module

try:
    from torch.nn import Module as Fallback
except ImportError:
    Fallback = object


class ViaNn(nn.Module): pass
class ViaTorch(torch.nn.Module): pass
class ViaImportedName(Module): pass
class ViaImportAs(tnn.Module): pass
class ViaFromImportAs(N.Module): pass
class ViaRenamedClass(M): pass
class ViaSequential(nn.Sequential): pass
class ViaLinear(Linear): pass
class ViaSubmodule(conv_mod.Conv2d): pass
class ViaAssignedAlias(Base): pass
class ViaPrivateBase(nn.modules.loss._Loss): pass
class ViaScriptModule(torch.jit.ScriptModule): pass
class ViaTransformerLayer(N.TransformerEncoderLayer): pass
class ViaTryImport(Fallback): pass
class WithMetaclass(nn.Module, metaclass=type): pass
class PlainObject(object): pass
class Abstract(ABC): pass
class NoBases: pass
class NotAModule(nn.Parameter): pass
class FromFactory(make_base()): pass


def factory():
    class InsideFunction(nn.Module):  # not importable by qualname: not a case
        pass
    return InsideFunction
'''

STAR = '''
from torch.nn import *


class ViaStar(Module): pass
class ViaStarConv(Conv2d): pass
class ViaStarUnknown(NotATorchClass): pass
'''

CHAIN = {
    "pkg/__init__.py": "from .base import Base\n",
    "pkg/base.py": '''
import torch.nn as nn


class Base(nn.Module):
    def __init__(self, dim: int = 4):
        super().__init__()

    def forward(self, x):
        return x
''',
    "pkg/mid.py": '''
from .base import Base


class Mid(Base):
    def forward(self, x, y=None):
        return x
''',
    "app/leaf.py": '''
import pkg.mid as m
from pkg.mid import Mid
from pkg import Base
from ..pkg.base import Base as TooFarUp


class Leaf(Mid):
    pass


class LeafViaModuleAlias(m.Mid):
    pass


class LeafViaReexport(Base):
    pass
''',
    "app/sub/deep.py": '''
from ...pkg import base


class Deep(base.Base):
    pass
''',
    "src/lib/core.py": "import torch\n\n\nclass Core(torch.nn.Module):\n    pass\n",
    "scripts/use_core.py": "from lib.core import Core\n\n\nclass UsesCore(Core):\n    pass\n",
    "other/base.py": "class Base:\n    pass\n",
    "other/child.py": "from .base import Base\n\n\nclass NotAModuleChild(Base):\n    pass\n",
    "cycle/a.py": "from cycle.b import X\n\n\nclass InCycle(X):\n    pass\n",
    "cycle/b.py": "from cycle.a import X\n",
}

NESTED = '''
import torch.nn as nn


class Outer(nn.Module):
    class Inner(nn.Module):
        pass

    class Block(Inner):  # its base is looked up in Outer's body
        class Deepest(nn.Linear):
            pass


class Holder:
    class Head(nn.Linear):
        pass


class UsesNested(Outer.Inner):
    pass


if nn:
    class Twice(nn.Module):
        pass
else:
    class Twice(nn.Module):
        pass
'''

PARAMS = '''
import torch
import torch.nn as nn


class Signatures(nn.Module):
    def __init__(self, a, b: int, c: float = 1e-3, *args, d: "str" = 'x', e, **kw):
        super().__init__()

    def forward(self, x: torch.Tensor, /, mask=None, *, scale: float = 2 ** 0.5) -> torch.Tensor:
        return x


class Unicode(nn.Module):
    def __init__(self, név="ü€", z=(1,
                                    2)):
        super().__init__()

    @staticmethod
    def forward(x, y=[]):
        return x


class NoOwnMethods(nn.Linear):
    pass


class InheritsFromRepo(Signatures):
    pass
'''


def _by_name(result: ScanResult) -> dict[str, dict]:
    return {m["qualname"]: m for m in result.modules}


def test_every_form_of_nn_module_base_is_found(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "r", {"aliases.py": ALIASES, "star.py": STAR})
    result = scan_checkout(repo)
    assert result.errors == [] and result.files_scanned == 2
    found = {(m["path"], m["qualname"]) for m in result.modules}
    assert found == {("aliases.py", n) for n in (
        "ViaNn", "ViaTorch", "ViaImportedName", "ViaImportAs", "ViaFromImportAs", "ViaRenamedClass",
        "ViaSequential", "ViaLinear", "ViaSubmodule", "ViaAssignedAlias", "ViaPrivateBase",
        "ViaScriptModule", "ViaTransformerLayer", "ViaTryImport", "WithMetaclass")} | {
        ("star.py", "ViaStar"), ("star.py", "ViaStarConv")}
    mods = _by_name(result)
    assert mods["ViaSubmodule"]["bases"] == ["conv_mod.Conv2d"]
    assert mods["WithMetaclass"]["bases"] == ["nn.Module"]


def test_subclasses_across_files_reach_a_fixed_point(tmp_path: Path) -> None:
    result = scan_checkout(make_repo(tmp_path, "r", CHAIN))
    assert result.errors == []
    found = {(m["path"], m["qualname"]) for m in result.modules}
    assert found == {
        ("pkg/base.py", "Base"), ("pkg/mid.py", "Mid"), ("app/leaf.py", "Leaf"),
        ("app/leaf.py", "LeafViaModuleAlias"), ("app/leaf.py", "LeafViaReexport"), ("app/sub/deep.py", "Deep"),
        ("src/lib/core.py", "Core"), ("scripts/use_core.py", "UsesCore")}
    leaf = _by_name(result)["Leaf"]
    # __init__ comes from Base two files up the chain, forward from Mid.
    assert leaf["init_params"] == [{"name": "dim", "kind": "positional", "annotation": "int", "default": "4"}]
    assert [p["name"] for p in leaf["forward_params"]] == ["x", "y"]


def test_nested_classes_have_dotted_qualnames(tmp_path: Path) -> None:
    result = scan_checkout(make_repo(tmp_path, "r", {"nested.py": NESTED}))
    assert [(m["qualname"], m["line"]) for m in result.modules] == [
        ("Outer", 5), ("Outer.Inner", 6), ("Outer.Block", 9), ("Outer.Block.Deepest", 10),
        ("Holder.Head", 15), ("UsesNested", 19), ("Twice", 27)]  # the last definition of Twice


def test_parameters_with_annotations_defaults_and_kinds(tmp_path: Path) -> None:
    mods = _by_name(scan_checkout(make_repo(tmp_path, "r", {"params.py": PARAMS})))
    sig = mods["Signatures"]
    assert sig["init_params"] == [
        {"name": "a", "kind": "positional", "annotation": None, "default": None},
        {"name": "b", "kind": "positional", "annotation": "int", "default": None},
        {"name": "c", "kind": "positional", "annotation": "float", "default": "1e-3"},
        {"name": "args", "kind": "vararg", "annotation": None, "default": None},
        {"name": "d", "kind": "kwonly", "annotation": '"str"', "default": "'x'"},
        {"name": "e", "kind": "kwonly", "annotation": None, "default": None},
        {"name": "kw", "kind": "varkw", "annotation": None, "default": None},
    ]
    assert sig["forward_params"] == [
        {"name": "x", "kind": "positional", "annotation": "torch.Tensor", "default": None},
        {"name": "mask", "kind": "positional", "annotation": None, "default": "None"},
        {"name": "scale", "kind": "kwonly", "annotation": "float", "default": "2 ** 0.5"},
    ]
    uni = mods["Unicode"]
    assert [(p["name"], p["default"]) for p in uni["init_params"]] == [
        ("név", '"ü€"'), ("z", "(1,\n                                    2)")]
    assert [p["name"] for p in uni["forward_params"]] == ["x", "y"]  # static: nothing to drop
    assert mods["NoOwnMethods"]["init_params"] is None and mods["NoOwnMethods"]["forward_params"] is None
    assert mods["InheritsFromRepo"]["init_params"] == sig["init_params"]


def test_unreadable_files_are_errors_and_the_scan_goes_on(tmp_path: Path) -> None:
    good = "import torch.nn as nn\n\n\nclass Good(nn.Module):\n    pass\n"
    repo = make_repo(tmp_path, "r", {
        "good.py": good,
        "broken.py": "import torch.nn as nn\nclass Broken(nn.Module)\n    pass\n",
        "py2.py": 'import torch.nn as nn\nprint "hello"\nclass Old(nn.Module):\n    pass\n',
        "latin.py": b"# comment \xe9\xff\nimport torch.nn as nn\nclass NotUtf8(nn.Module):\n    pass\n",
        "cookie.py": "# -*- coding: latin-1 -*-\nimport torch.nn as nn\n# caf\u00e9\nclass Cookie(nn.Module):\n"
                     "    pass\n".encode("latin-1"),
        "huge.py": good.replace("Good", "Huge") + "#" * 5000 + "\n",
        "nulls.py": b"import torch.nn as nn\x00\n",
        ".hidden/h.py": good.replace("Good", "Hidden"),
        "venv/lib/site.py": good.replace("Good", "InVenv"),
        "env/pyvenv.cfg": "home = /usr/bin\n",
        "env/lib/x.py": good.replace("Good", "InEnv"),
        "third/site-packages/y.py": good.replace("Good", "InSitePackages"),
        "inside/target.py": good.replace("Good", "Linked"),
    })
    outside = tmp_path / "outside.py"
    outside.write_text(good.replace("Good", "Outside"))
    os.symlink(outside, repo / "escape.py")
    os.symlink(repo / "inside" / "target.py", repo / "link_inside.py")
    os.symlink(tmp_path, repo / "linked_dir")  # a symlinked directory is not entered
    os.mkfifo(repo / "fifo.py")  # would block a naive open() forever

    result = scan_checkout(repo, max_file_bytes=4000)
    errors = dict(result.errors)
    assert set(errors) == {"broken.py", "py2.py", "latin.py", "huge.py", "nulls.py", "escape.py", "fifo.py"}
    assert errors["broken.py"].startswith("syntax error at line 2")
    assert errors["py2.py"].startswith("syntax error at line 2") and "print" in errors["py2.py"]
    # only the statements that do not parse are left out: py2.py's class is still found, and said
    assert "without 1 top-level statement" in errors["py2.py"] and "without 1" in errors["broken.py"]
    assert errors["latin.py"] == "not UTF-8"
    assert "too large" in errors["huge.py"]
    assert "outside" in errors["escape.py"] and "regular" in errors["fifo.py"]
    found = {(m["path"], m["qualname"]) for m in result.modules}
    assert found == {("cookie.py", "Cookie"), ("good.py", "Good"), ("inside/target.py", "Linked"),
                     ("link_inside.py", "Linked"), ("py2.py", "Old")}
    assert result.files_scanned == 6
    assert [m["path"] for m in result.modules] == sorted(m["path"] for m in result.modules)


def test_empty_and_moduleless_repos(tmp_path: Path) -> None:
    assert scan_checkout(make_repo(tmp_path, "empty", {})) == ScanResult([], [], 0)
    plain = scan_checkout(make_repo(tmp_path, "plain", {"a.py": "class A(object):\n    pass\n"}))
    assert plain.modules == [] and plain.files_scanned == 1


@pytest.mark.parametrize("name,expected", [
    ("torch.nn.Module", True), ("torch.nn.modules.conv.Conv2d", True), ("torch.nn.Conv2d", True),
    ("torch.jit.ScriptModule", True), ("torch.nn.Parameter", False), ("torch.Tensor", False),
    ("mylib.nn.Module", False), ("Module", False)])
def test_torch_module_names(name: str, expected: bool) -> None:
    assert is_torch_module_name(name) is expected
