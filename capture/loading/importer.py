"""Import a class from a crawled checkout, stubbing third-party packages it lacks.

A file that imports, say, `wandb` at top level should not lose every class in
it: a missing package is replaced by a stub module whose attributes are
permissive stand-ins, so classes that do not really use it still load. Each
stubbed name is reported so the case records it. torch itself is never stubbed.

A name the repo itself has is never stubbed: a missing top-level import is
first looked up among the repo's own directories (the nearest ancestor of the
importing file that holds it, as the project's scripts find it when run from
their folder: capture/loading/repo_paths.py). A submodule of the repo's own packages
with no source (a compiled extension never built: `from mylib import _C`) is
stubbed alone, recorded as "mylib._C", so the package's pure-Python classes
load. Stand-ins survive the protocol calls import-time code makes (len,
iteration, comparison, arithmetic, format, use as decorator or base), and a
stubbed package's version is retried with the versions the failing check
names (capture/loading/stub_versions.py). Torch calls that cannot work on this
machine or torch (`.cuda()` with no GPU, an integer nn.Parameter) are answered as
the code meant them, and recorded on the case when made (capture/loading/stub_torch.py).
"""
from __future__ import annotations

import abc
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import collections.abc
import inspect
import re
import sys
import traceback
import types
from pathlib import Path
from typing import Any

from capture.loading import (known_packages, old_runtime, repo_paths, shadowing, stub_torch, stub_use, stub_versions,
                             tolerant, torch_compat, vision_ops)

# torch itself and our own packages are never stubbed. torchvision/torchaudio/
# torchtext are when missing: a file that imports torchvision for one transform
# should not lose its other classes (the stub is recorded on the case).
NEVER_STUB = frozenset({"torch", "numpy", "graphcrawl", "capture", "backend", "db", "crawler", "reports"})
MAX_STUBS = 50


class LoadError(Exception):
    """The module's file could not be imported or the class was not found."""

    def __init__(self, message: str, missing: str | None = None, cause: BaseException | None = None):
        super().__init__(message)
        self.missing = missing
        self.cause = cause


def _origin(obj: Any) -> str | None:
    """The dotted name a stand-in (class or instance) was made for; None where unknown."""
    getter = type.__getattribute__ if isinstance(obj, type) else object.__getattribute__
    try:
        return getter(obj, "__graphcrawl_from__")
    except AttributeError:
        return None


def _child(parent: Any) -> Any:
    """A fresh stand-in instance that keeps its parent's origin (so a later use is traced to it)."""
    child = object.__new__(_Stub)
    child.__dict__["__graphcrawl_from__"] = _origin(parent)
    return child


def _stub_value(self: Any, *_: Any) -> Any:
    stub_use.touch(_origin(self))
    return _child(self)


def _true(self: Any, *_: Any) -> bool:
    stub_use.touch(_origin(self))
    return True


def _touching(fn: Any) -> Any:
    """`fn` as a protocol method that first records a use of its stand-in (capture/loading/stub_use.py)."""
    def method(self: Any, *args: Any) -> Any:
        stub_use.touch(_origin(self))
        return fn(self, *args)
    return method


def _format(_self: Any, spec: str = "") -> str:
    try:
        return format(0, spec)
    except (ValueError, TypeError):
        return format("", spec) if spec else ""


# Protocol calls import-time code makes on stand-ins, answered without raising.
# Ordering comparisons all answer True, so range asserts (`lo <= v <= hi`) pass.
_ARITH = ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
          "lshift", "rshift")
_PROTOCOL: dict[str, Any] = {
    "__len__": _touching(lambda self: 0),
    "__iter__": _touching(lambda self: iter(())),
    "__contains__": _touching(lambda self, item: False),
    "__lt__": _true, "__le__": _true, "__gt__": _true, "__ge__": _true,
    "__int__": _touching(lambda self: 0), "__index__": _touching(lambda self: 0),
    "__float__": _touching(lambda self: 0.0),
    "__neg__": _stub_value, "__pos__": _stub_value, "__abs__": _stub_value, "__invert__": _stub_value,
    "__format__": _format,
    "__enter__": _stub_value, "__exit__": lambda self, *exc: False,
    **{f"__{op}__": _stub_value for op in _ARITH},
    **{f"__r{op}__": _stub_value for op in _ARITH},
}


class _StubMeta(abc.ABCMeta):
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        stub_use.touch(_origin(cls))
        # Used as a bare decorator (@stub.register): hand the function or class back.
        if len(args) == 1 and not kwargs and (inspect.isfunction(args[0]) or inspect.isclass(args[0])):
            return args[0]
        return super().__call__(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        origin = _origin(cls)
        stub_use.touch(origin)
        return _make_stub_class(f"{cls.__name__}.{name}", f"{origin}.{name}" if origin else stub_use.UNKNOWN)

    def __getitem__(cls, item: Any) -> Any:
        stub_use.touch(_origin(cls))
        return cls

    def __bool__(cls) -> bool:
        return True  # a class is truthy, even with __len__ below

    __len__ = _PROTOCOL["__len__"]
    __iter__ = _PROTOCOL["__iter__"]
    __contains__ = _PROTOCOL["__contains__"]
    __lt__ = __le__ = __gt__ = __ge__ = _true
    __int__ = _PROTOCOL["__int__"]
    __index__ = _PROTOCOL["__index__"]
    __float__ = _PROTOCOL["__float__"]
    __format__ = _format
    __hash__ = type.__hash__
    for _op in _ARITH:
        locals()[f"__{_op}__"] = _stub_value
        locals()[f"__r{_op}__"] = _stub_value
    del _op


class _Stub(metaclass=_StubMeta):
    """Stands in for anything from a missing package: callable, subclassable."""

    __graphcrawl_from__: str | None = None  # what it stands in for: 'PIL.Image' (capture/loading/stub_use.py)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        stub_use.touch(_origin(self))
        return args[0] if len(args) == 1 and not kwargs and callable(args[0]) else _child(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        stub_use.touch(_origin(self))
        return _child(self)

    def __getitem__(self, item: Any) -> Any:
        stub_use.touch(_origin(self))
        return _child(self)

    def __setitem__(self, item: Any, value: Any) -> None:
        stub_use.touch(_origin(self))

    def __bool__(self) -> bool:
        stub_use.touch(_origin(self))
        return False

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: Any) -> bool:
        return self is other

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        # `class Net(stub.factory()):` - an instance used as a base becomes a stub class.
        return (_make_stub_class("base", _origin(self) or stub_use.UNKNOWN),)

    locals().update(_PROTOCOL)


def _make_stub_class(name: str, origin: str | None = None) -> type:
    return _StubMeta(name.rsplit(".", 1)[-1], (_Stub,), {"__module__": "graphcrawl_stub", "__qualname__": name,
                                                        "__graphcrawl_from__": origin or name})


class StubModule(types.ModuleType):
    """A missing package: every attribute is a stub class, submodules are stubs too."""

    def __init__(self, name: str, version: str = stub_versions.DEFAULT) -> None:
        super().__init__(name)
        self.__path__: list[str] = []
        self.__graphcrawl_stub__ = True
        # Version checks at import (`float(torchvision.__version__[:3]) < 0.7`) take the current
        # path; a check this fails makes the loader retry with the versions it names.
        self.__version__ = version

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        stub_use.touch(self.__name__)
        value = _make_stub_class(f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves stubs: whole packages (`roots`) and single submodules with no source (`exact`)."""

    def __init__(self, roots: set[str], exact: set[str] | None = None,
                 versions: dict[str, str] | None = None) -> None:
        self.roots = roots
        self.exact = exact if exact is not None else set()
        self.versions = versions if versions is not None else {}

    def find_spec(self, fullname: str, path: Any, target: Any = None):
        if fullname.split(".")[0] in self.roots or any(
                fullname == e or fullname.startswith(e + ".") for e in self.exact):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return StubModule(spec.name, self.versions.get(spec.name.split(".")[0], stub_versions.DEFAULT))

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _ShimFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves working stand-ins (capture/loading/einops_standin.py) for packages that are not installed.

    It sits after the real finders, so an installed einops always wins; `used`
    says which stand-ins an import asked for (recorded on the case as stubs).
    """

    SHIMS = ("einops",)

    def __init__(self) -> None:
        self.used: set[str] = set()

    def find_spec(self, fullname: str, path: Any, target: Any = None):
        if fullname.split(".")[0] in self.SHIMS and fullname in ("einops", "einops.layers", "einops.layers.torch"):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        from capture.loading import einops_standin
        if "einops" not in sys.modules or not getattr(sys.modules["einops"], "__graphcrawl_shim__", False):
            einops_standin.install()
        self.used.add(spec.name.split(".")[0])
        return sys.modules[spec.name]

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def _dotted_name(relpath: str) -> str:
    parts = Path(relpath).with_suffix("").parts
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _repo_top_levels(root: Path) -> set[str]:
    names = set()
    for child in root.iterdir():
        if child.suffix == ".py":
            names.add(child.stem)
        elif child.is_dir() and not child.name.startswith("."):
            names.add(child.name)
    return names


def _forget(prefixes: set[str], before: set[str], checkout: Path, keep: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """Drop the repo's modules imported by a failed attempt so the retry starts clean.

    Only the repo's own and stubbed modules go: dropping torch submodules would
    make a second copy of torch's classes.
    """
    root = str(checkout)
    for name in list(sys.modules):
        if name in before or name in keep:
            continue
        file = getattr(sys.modules[name], "__file__", None) or ""
        if name.split(".")[0] in prefixes or file.startswith(root) or name.startswith("graphcrawl_case_"):
            sys.modules.pop(name, None)


_LOADING_DIR = str(Path(__file__).resolve().parent) + "/"  # this package's frames (the guard) are not the importer's
CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from (?:partially initialized module )?'([\w.]+)'"
                           r"(?:.*\((/[^()]*)\))?")


def _importer(exc: BaseException, checkout: Path) -> Path | None:
    """The crawled file whose import statement raised (the frame just outside importlib)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(("<frozen", _LOADING_DIR))]
    if frames and frames[-1].filename.startswith(str(checkout)):
        return Path(frames[-1].filename)
    return None


def _module_frame(exc: BaseException, checkout: Path) -> tuple[str, str] | None:
    """(file, module name) of the innermost module-level frame of a repo file in exc's traceback."""
    root = str(checkout) + "/"
    found = None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "<module>" and code.co_filename.startswith(root):
            found = (code.co_filename, str(tb.tb_frame.f_globals.get("__name__", "")))
        tb = tb.tb_next
    return found


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`net` (or `models.net`) imported top-level is the module `pkg.models.net`, one object under both names."""

    def __init__(self, aliases: dict[str, str]) -> None:
        self.aliases = aliases

    def find_spec(self, fullname: str, path: Any, target: Any = None):
        top = fullname.split(".")[0]
        if top in self.aliases:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        top, _, rest = spec.name.partition(".")
        return importlib.import_module(self.aliases[top] + ("." + rest if rest else ""))

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def _is_repo_module(name: str, checkout: Path) -> bool:
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None) or ""
    return bool(file) and file.startswith(str(checkout))


def _package_dir(name: str, checkout: Path) -> Path | None:
    """The folder of package `name`: from sys.modules, or (a package whose __init__ just failed
    and left sys.modules) the first sys.path folder that has it."""
    module = sys.modules.get(name)
    if module is not None:
        paths = list(getattr(module, "__path__", None) or [])
        return Path(paths[0]) if paths else None
    rel = Path(*name.split("."))
    for entry in sys.path:
        if entry and (Path(entry) / rel).is_dir() and str(entry).startswith(str(checkout)):
            return Path(entry) / rel
    return None


class _Attempts:
    """What one load has changed so far: stubs, extra sys.path folders, stub versions."""

    def __init__(self, checkout: Path, stubs: list[str] | None) -> None:
        self.checkout = checkout
        self.tolerant: dict[str, set[int]] = {}  # file -> lines of top-level statements to skip
        self.skipped: set[str] = set()  # "skipped:<file>:<line>", recorded beside the stubs
        self.aliases: dict[str, str] = {}  # a repo file's package imported top-level -> its real dotted name
        self.case_name: tuple[str, Path] | None = None  # the case file's own dotted name, when found
        self.refused: set[str] = set()  # names whose repo folder shadowing.RepoGuard refused: stubbed
        for entry in stubs or []:
            where = tolerant.parse_mark(checkout, entry)
            if where is not None:
                self.tolerant.setdefault(where[0], set()).add(where[1])
        seeded = [s for s in (stubs or []) if " " not in s and not s.startswith(tolerant.PREFIX)]
        self.roots: set[str] = {s for s in seeded if "." not in s}
        self.exact: set[str] = {s for s in seeded if "." in s}
        self.names: set[str] = set()  # "M.X": names stubbed into a loaded module M
        self.keep: set[str] = set()   # modules holding such names: not dropped between attempts
        self.built: set[str] = set()  # extensions the repo compiles at import, stubbed (cpp_extension.load)
        self.no_build = False
        self.versions: dict[str, str] = {}
        self.tried_versions: dict[str, list[str]] = {}
        self.paths: set[str] = set()

    def recorded(self) -> set[str]:
        return self.roots | self.exact | self.names | self.skipped | {f"{n} (cpp_extension)" for n in self.built}

    def record_skip(self, file: str, line: int) -> None:
        self.skipped.add(tolerant.mark(self.checkout, file, line))

    def fix_statement(self, exc: BaseException) -> bool:
        """A top-level statement that is no import or definition failed: load its file without it."""
        where = tolerant.failing_statement(exc, self.checkout)
        if where is None or where[1] in self.tolerant.get(where[0], set()):
            return False
        self.tolerant.setdefault(where[0], set()).add(where[1])
        return True

    def fix_relative(self, exc: ImportError) -> bool:
        """`from .x import y` in a repo file imported as a top-level module (a sibling imported by its
        bare name, or the case file by path): import it as its package's member, `pkg.sub.mod`."""
        if "attempted relative import" not in str(exc):
            return False
        found = _module_frame(exc, self.checkout)
        if found is None:
            return False
        file, name = found
        where = repo_paths.package_name(self.checkout, Path(file))
        if where is None:
            return False
        dotted, base = where
        if name.startswith("graphcrawl_case_"):
            if self.case_name == (dotted, base):
                return False
            self.case_name = (dotted, base)
        else:
            have, want = name.split("."), dotted.split(".")
            if len(want) <= len(have) or want[-len(have):] != have:
                return False
            alias, target = have[0], ".".join(want[: len(want) - len(have) + 1])
            if self.aliases.get(alias) == target or target.split(".")[0] == alias:
                return False  # `torch2trt/torch2trt.py` imported as `torch2trt`: an alias into itself loops
            self.aliases[alias] = target
        if str(base) not in sys.path:
            sys.path.insert(0, str(base))
        return True

    def fix_extension_build(self, exc: BaseException) -> bool:
        """The repo compiles a C++/CUDA extension at import (cpp_extension.load): stub what it builds."""
        if self.no_build or not any(f.filename.endswith("torch/utils/cpp_extension.py")
                                    for f in traceback.extract_tb(exc.__traceback__)):
            return False
        self.no_build = True
        return True

    def patch_builds(self) -> Any:
        """While importing, cpp_extension.load/load_inline hand back a stub module instead of compiling."""
        if not self.no_build:
            return None
        from torch.utils import cpp_extension
        saved = (cpp_extension.load, cpp_extension.load_inline)

        def load(name: str, *args: Any, **kwargs: Any) -> types.ModuleType:
            self.built.add(str(name))
            return StubModule(str(name))
        cpp_extension.load = cpp_extension.load_inline = load  # type: ignore[assignment]
        return saved

    def fix_broken_binary(self, exc: ImportError) -> bool:
        """A compiled extension of the repo that is there but does not load (built for another
        torch: `_ext.so: undefined symbol`): stub that module alone, like one never built."""
        name, path = getattr(exc, "name", None), getattr(exc, "path", None) or ""
        if not name or name in self.exact or not path.startswith(str(self.checkout)) \
                or not path.endswith((".so", ".pyd", ".dylib")):
            return False
        self.exact.add(name)
        return True

    def stub_root(self, exc: ModuleNotFoundError, local: set[str]) -> bool:
        """A missing third-party top-level package (none of the repo's own names): stub it whole."""
        missing = (exc.name or "").split(".")[0]
        repo_has = missing not in self.refused and (
            (missing in local and not known_packages.is_known(missing))
            or repo_paths.source_root(self.checkout, missing, _importer(exc, self.checkout)) is not None)
        if not missing or missing in NEVER_STUB or missing in self.roots or repo_has:
            return False
        self.roots.add(missing)
        return True

    def fix_not_a_package(self, exc: ModuleNotFoundError) -> bool:
        """`from utils.repository import R` met the file `model/utils.py` (a folder nearer the case
        file on sys.path) where the repo root's package `utils/` has it: that root goes first."""
        top, _, sub = (exc.name or "").partition(".")
        have = sys.modules.get(top)
        if not sub or "is not a package" not in str(exc) or have is None or hasattr(have, "__path__"):
            return False
        shadow = Path(getattr(have, "__file__", "") or "").resolve().parent
        folders = [Path(p).resolve() if p else None for p in sys.path]
        if shadow not in folders:
            return False
        first = sub.split(".")[0]
        for entry, folder in zip(list(sys.path), folders):
            if folder is None or folder == shadow or not (folder == self.checkout or self.checkout in folder.parents):
                continue
            pkg = folder / top
            if pkg.is_dir() and ((pkg / f"{first}.py").is_file() or (pkg / first).is_dir()):
                sys.path.remove(entry)
                sys.path.insert(folders.index(shadow), entry)
                sys.modules.pop(top, None)
                return True
        return False

    def fix_chained(self, exc: BaseException, local: set[str]) -> bool:
        """`try: from ._ext import x / except ImportError: raise ImportError("build it first")`
        (or "please install apex"): fix the cause, as if the import had not been wrapped."""
        inner = exc.__cause__ or exc.__context__
        if isinstance(inner, ModuleNotFoundError):
            return self.fix_missing(inner, local) or self.stub_root(inner, local)
        if isinstance(inner, ImportError):
            return self.fix_cannot_import(inner)
        return False

    def fix_missing(self, exc: ModuleNotFoundError, local: set[str]) -> bool:
        """Find the repo's own folder for a missing name, or stub a source-less submodule."""
        name = exc.name or ""
        top = name.split(".")[0]
        importer = _importer(exc, self.checkout)
        if top and top not in self.roots:
            folder = repo_paths.source_root(self.checkout, top, importer)
            if folder is not None and str(folder) not in self.paths:
                self.paths.add(str(folder))
                if str(folder) in sys.path:
                    sys.path.remove(str(folder))
                sys.path.insert(0, str(folder))
                return True
        if "." in name and importer is not None:
            # the deepest loaded package above the missing name; its first missing part is stubbed
            parts = name.split(".")
            for i in range(len(parts) - 1, 0, -1):
                parent, sub = ".".join(parts[:i]), parts[i]
                folder = _package_dir(parent, self.checkout)
                if folder is None:
                    continue
                stub = f"{parent}.{sub}"
                if stub in self.exact or (folder / f"{sub}.py").is_file() or (folder / sub).is_dir():
                    return False
                if str(folder).startswith(str(self.checkout)) or top not in NEVER_STUB or top == "torch":
                    self.exact.add(stub)  # a compiled extension never built, or a submodule this version lacks
                    return True
                return False
        return False

    def fix_missing_name(self, exc: ImportError) -> bool:
        """`from M import X` where loaded module M has no X (the repo's HEAD out of step, or a name
        the installed version dropped): X becomes a stub attribute of M, recorded as "M.X"."""
        m = CANNOT_IMPORT.search(str(exc))
        if not m or _importer(exc, self.checkout) is None:
            return False
        sub, parent = m.group(1), m.group(2)
        module = sys.modules.get(parent)
        top = parent.split(".")[0]
        if module is None or hasattr(module, sub) or (top in NEVER_STUB and top != "torch") \
                or repo_paths.defines(getattr(module, "__file__", None), sub):
            return False
        found = self._from_submodule(module, sub)
        if found is not None:  # the repo's own package defines it one level down: not a stub
            setattr(module, sub, found)
            self.keep.add(parent)
            return True
        shimmed, value = torch_compat.value_for(parent, sub)
        if shimmed:  # a name torch removed: what it was, recorded as a compat shim
            setattr(module, sub, value)
            self.keep.add(parent)
            self.names.add(torch_compat.MARK.format(f"{parent}.{sub}"))
            return True
        compat = getattr(collections.abc, sub, None) if parent == "collections" else None
        setattr(module, sub, compat if compat is not None else _make_stub_class(f"{parent}.{sub}"))
        self.keep.add(parent)
        self.names.add(f"{parent}.{sub}")
        return True

    def _from_submodule(self, package: types.ModuleType, name: str) -> Any:
        """`from pkg import X` where the repo's pkg/__init__.py lacks X but one of its own modules
        (pkg/conv.py) defines it (an export the repo forgot): that module's X, else None."""
        init = getattr(package, "__file__", None) or ""
        if not init.startswith(str(self.checkout)) or Path(init).name != "__init__.py":
            return None
        for file in sorted(Path(init).parent.glob("*.py")):
            if file.name == "__init__.py" or not file.stem.isidentifier() or not repo_paths.defines(str(file), name):
                continue
            try:
                value = getattr(importlib.import_module(f"{package.__name__}.{file.stem}"), name, None)
            except Exception:  # noqa: BLE001 - a sibling that does not import is no source for the name
                continue
            if value is not None:
                return value
        return None

    def fix_cannot_import(self, exc: ImportError) -> bool:
        """`from mylib import _C` where mylib is the repo's and _C has no source: stub mylib._C."""
        m = CANNOT_IMPORT.search(str(exc))
        if not m or _importer(exc, self.checkout) is None:
            return False
        sub, parent, file = m.group(1), m.group(2), m.group(3)
        name = f"{parent}.{sub}"
        package = sys.modules.get(parent)
        found = self._from_submodule(package, sub) if package is not None else None
        if found is not None:  # the repo's own package defines it one level down: not a stub
            setattr(package, sub, found)
            self.keep.add(parent)
            return True
        file = file or getattr(sys.modules.get(parent), "__file__", None)  # a failed package left sys.modules
        if name in self.exact or not file or Path(file).name != "__init__.py" \
                or not file.startswith(str(self.checkout)) or repo_paths.has_source(file, sub) \
                or repo_paths.defines(file, sub):
            return False  # a real circular import of a name the package defines is not stubbed
        self.exact.add(name)
        return True

    def fix_version(self, exc: BaseException) -> bool:
        """An import-time version check rejected a stub's version: try the versions it names."""
        root, versions = stub_versions.concerned(exc, self.roots, str(self.checkout))
        if root is None:
            return False
        tried = self.tried_versions.setdefault(root, [])
        left = [v for v in versions if v not in tried]
        if not left or len(tried) >= stub_versions.MAX_RETRIES:
            return False
        tried.append(left[0])
        self.versions[root] = left[0]
        return True


def load_class(checkout: Path, relpath: str, qualname: str,
               stubs: list[str] | None = None) -> tuple[type, list[str]]:
    """Import `relpath` from `checkout` and return (class, stubbed package names).

    `stubs` pre-seeds the stub set (a replay uses the stubs its case recorded).
    """
    checkout = Path(checkout).resolve()
    file = checkout / relpath
    if not file.is_file():
        raise LoadError(f"{relpath}: no such file in checkout")
    # The file's folder first, then each folder up to the checkout: a name resolves at the nearest
    # ancestor that has it, as when the project's scripts run from their own folder.
    ancestors = [file.parent, *[a for a in file.parent.parents if a == checkout or checkout in a.parents]]
    for p in reversed([str(a) for a in ancestors]):
        if p not in sys.path:
            sys.path.insert(0, p)
    local = _repo_top_levels(checkout) | _repo_top_levels(file.parent)
    state = _Attempts(checkout, stubs)
    stub_torch.install()
    old_runtime.install()
    vision_ops.install()  # before crawled code imports torchvision
    torch_marks: list[str] = []
    stub_torch.record_into(torch_marks)  # calls made while importing (module-level `.cuda()`)
    shims = _ShimFinder()
    sys.meta_path.append(shims)  # after the real finders: only for what is not installed
    finder = _StubFinder(state.roots, state.exact, state.versions)
    sys.meta_path.append(finder)  # last: only what nothing else can find is stubbed
    compat = torch_compat.CompatFinder()
    sys.meta_path.insert(len(sys.meta_path) - 1, compat)  # torch APIs torch removed: before the stubs
    own_top = _package_base(_dotted_name(relpath), checkout)[0].split(".")[0] or None
    files = tolerant.TolerantFinder(state.tolerant, state.record_skip)
    guard = shadowing.RepoGuard(checkout, own_top, finder, refused=state.refused)
    sys.meta_path[:0] = [guard, _AliasFinder(state.aliases), files]
    dotted = _dotted_name(relpath)
    before = set(sys.modules)
    module = None
    for _ in range(MAX_STUBS):
        saved = state.patch_builds()
        try:
            module = _import_file(dotted, file, checkout, files, state.case_name)
            break
        except ModuleNotFoundError as exc:
            if state.fix_missing(exc, local) or state.fix_not_a_package(exc):
                _forget(local | state.roots | {e.split(".")[0] for e in state.exact}, before, checkout, state.keep)
                continue
            if not state.stub_root(exc, local):
                raise LoadError(f"{type(exc).__name__}: {exc}", missing=exc.name or None, cause=exc) from exc
            _forget(local | state.roots, before, checkout, state.keep)
        except SystemExit as exc:
            if state.fix_statement(exc):  # `args = parser.parse_args()` at top level: that statement skipped
                _forget(local | state.roots | set(state.aliases), before, checkout, state.keep)
                continue
            raise LoadError(f"module called sys.exit({exc.code!r}) during import", cause=exc) from exc
        except BaseException as exc:  # noqa: BLE001 - any import error is the case's status
            if (isinstance(exc, ImportError) and (state.fix_cannot_import(exc) or state.fix_missing_name(exc)
                                                  or state.fix_broken_binary(exc) or state.fix_chained(exc, local)
                                                  or state.fix_relative(exc))) \
                    or (isinstance(exc, Exception) and (state.fix_version(exc) or state.fix_extension_build(exc))) \
                    or state.fix_statement(exc):
                _forget(local | state.roots | set(state.aliases) | {e.split(".")[0] for e in state.exact},
                        before, checkout, state.keep)
                continue
            raise LoadError(f"{type(exc).__name__}: {exc}", cause=exc) from exc
        finally:
            if saved is not None:
                from torch.utils import cpp_extension
                cpp_extension.load, cpp_extension.load_inline = saved
    if module is None:
        raise LoadError(f"gave up after stubbing {MAX_STUBS} packages")
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise LoadError(f"{qualname} not found in {relpath} after import")
    if not isinstance(obj, type):
        raise LoadError(f"{qualname} in {relpath} is not a class")
    recorded = sorted(state.recorded() | shims.used | compat.marks() | set(torch_marks))
    stub_torch.record_into(recorded)  # later calls (in __init__, forward) mark the case's list
    return obj, recorded


def _package_base(dotted: str, checkout: Path) -> tuple[str, Path]:
    """(dotted name, folder to import it from): below a folder whose name is no identifier
    (`seq2seq.pytorch/seq2seq/models/x.py`), the identifier part (`seq2seq.models.x`)."""
    parts = dotted.split(".") if dotted else []
    keep: list[str] = []
    for part in reversed(parts):
        if not part.isidentifier():
            break
        keep.insert(0, part)
    base = checkout.joinpath(*parts[: len(parts) - len(keep)]) if len(keep) < len(parts) else checkout
    return ".".join(keep), base


VENDORED_PREFIX = "graphcrawl_vendored_"


def _vendored(top: str, base: Path) -> bool:
    """`base/top` is the repo's copy of an installed distribution (FOTS ships `vision-0.9.0/torchvision/`)."""
    return (base / top / "__init__.py").is_file() and top in known_packages.installed()


def _bind_top_package(top: str, base: Path, files: tolerant.TolerantFinder | None = None,
                      name: str | None = None) -> None:
    """The case file's own top package comes from `base`, even where a folder on sys.path
    before it has a package of the same name (`seg/models/seg/` shadowing `seg/`).

    `name`: the module name to bind it under, where it is not `top` (a vendored copy)."""
    folder = base / top
    top = name or top
    have = sys.modules.get(top)
    if not folder.is_dir() or (have is not None and str(folder) in list(getattr(have, "__path__", []) or [])):
        return
    init = folder / "__init__.py"
    if init.is_file() and files is not None and str(init.resolve()) in files.files:
        spec = files.spec_for(top, str(init.resolve()), [str(folder)])
    elif init.is_file():
        spec = importlib.util.spec_from_file_location(top, init, submodule_search_locations=[str(folder)])
    else:
        spec = importlib.machinery.ModuleSpec(top, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
    if spec is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules[top] = module
    if spec.loader is not None:
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(top, None)
            raise


def _import_file(dotted: str, file: Path, checkout: Path, files: tolerant.TolerantFinder | None = None,
                 name_in_package: tuple[str, Path] | None = None) -> types.ModuleType:
    """Import as a package member when possible (relative imports work), else by path.

    `name_in_package`: (dotted name, folder above its package root), found when the file's
    relative imports failed under the name from the checkout root (repo_paths.package_name).
    """
    dotted, base = name_in_package or _package_base(_dotted_name(str(file.relative_to(checkout))), checkout)
    if base != checkout and "." in dotted and str(base) not in sys.path:
        sys.path.insert(0, str(base))
    if dotted and all(part.isidentifier() for part in dotted.split(".")):
        top = dotted.split(".")[0]
        if "." in dotted and _vendored(top, base):
            # the installed package keeps its name (the repo's absolute imports, torch's own use get it);
            # the copy is a package of its own name, so its relative imports stay inside the copy
            _bind_top_package(top, base, files, name=VENDORED_PREFIX + top)
            dotted = VENDORED_PREFIX + dotted
        else:
            _bind_top_package(top, base, files)
        try:
            module = importlib.import_module(dotted)
            if Path(getattr(module, "__file__", "") or "").resolve() == file.resolve():
                return module
        except ModuleNotFoundError as exc:
            # `mmdet` missing is not `mmdet3d.ops.x` itself: compare whole dotted parts
            names_itself = exc.name and (dotted == exc.name or dotted.startswith(exc.name + "."))
            if names_itself and not (base / exc.name.replace(".", "/")).exists():
                pass  # the dotted name itself is not importable; fall back to the path
            else:
                raise
    name = "graphcrawl_case_" + "".join(c if c.isalnum() else "_" for c in str(file.relative_to(checkout)))
    if files is not None and str(file.resolve()) in files.files:
        spec = files.spec_for(name, str(file.resolve()))
    else:
        spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
