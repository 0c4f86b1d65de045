"""Import a class from a crawled checkout, stubbing third-party packages it lacks.

A file that imports, say, `wandb` at top level should not lose every class in
it: a missing package is replaced by a stub module whose attributes are
permissive stand-ins, so classes that do not really use it still load. Each
stubbed name is reported so the case records it. torch itself is never stubbed.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import sys
import types
from pathlib import Path
from typing import Any

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


class _StubMeta(type):
    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        # Used as a bare decorator (@stub.register): hand the function or class back.
        if len(args) == 1 and not kwargs and (inspect.isfunction(args[0]) or inspect.isclass(args[0])):
            return args[0]
        return super().__call__(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _make_stub_class(f"{cls.__name__}.{name}")

    def __getitem__(cls, item: Any) -> Any:
        return cls

    def __or__(cls, other: Any) -> Any:
        return cls

    def __ror__(cls, other: Any) -> Any:
        return cls


class _Stub(metaclass=_StubMeta):
    """Stands in for anything from a missing package: callable, subclassable."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return args[0] if len(args) == 1 and not kwargs and callable(args[0]) else _Stub()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Stub()

    def __iter__(self):
        return iter(())

    def __bool__(self) -> bool:
        return False


def _make_stub_class(name: str) -> type:
    return _StubMeta(name.rsplit(".", 1)[-1], (_Stub,), {"__module__": "graphcrawl_stub", "__qualname__": name})


class StubModule(types.ModuleType):
    """A missing package: every attribute is a stub class, submodules are stubs too."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__path__: list[str] = []
        self.__graphcrawl_stub__ = True
        # Version checks at import (`float(torchvision.__version__[:3]) < 0.7`) take the current path.
        self.__version__ = "99.0.0"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        value = _make_stub_class(f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, roots: set[str]) -> None:
        self.roots = roots

    def find_spec(self, fullname: str, path: Any, target: Any = None):
        if fullname.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return StubModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _ShimFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves working stand-ins (capture/deduce_einops.py) for packages that are not installed.

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
        from capture import deduce_einops
        if "einops" not in sys.modules or not getattr(sys.modules["einops"], "__graphcrawl_shim__", False):
            deduce_einops.install()
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


def _forget(prefixes: set[str], before: set[str], checkout: Path) -> None:
    """Drop the repo's modules imported by a failed attempt so the retry starts clean.

    Only the repo's own and stubbed modules go: dropping torch submodules would
    make a second copy of torch's classes.
    """
    root = str(checkout)
    for name in list(sys.modules):
        if name in before:
            continue
        file = getattr(sys.modules[name], "__file__", None) or ""
        if name.split(".")[0] in prefixes or file.startswith(root) or name.startswith("graphcrawl_case_"):
            sys.modules.pop(name, None)


def load_class(checkout: Path, relpath: str, qualname: str,
               stubs: list[str] | None = None) -> tuple[type, list[str]]:
    """Import `relpath` from `checkout` and return (class, stubbed package names).

    `stubs` pre-seeds the stub set (a replay uses the stubs its case recorded).
    """
    checkout = Path(checkout).resolve()
    file = checkout / relpath
    if not file.is_file():
        raise LoadError(f"{relpath}: no such file in checkout")
    for p in (str(file.parent), str(checkout)):
        if p not in sys.path:
            sys.path.insert(0, p)
    local = _repo_top_levels(checkout) | _repo_top_levels(file.parent)
    stubbed: set[str] = set(stubs or [])
    shims = _ShimFinder()
    sys.meta_path.append(shims)  # after the real finders: only for what is not installed
    finder = _StubFinder(stubbed)
    sys.meta_path.append(finder)  # last: only what nothing else can find is stubbed
    dotted = _dotted_name(relpath)
    before = set(sys.modules)
    module = None
    for _ in range(MAX_STUBS):
        try:
            module = _import_file(dotted, file, checkout)
            break
        except ModuleNotFoundError as exc:
            missing = (exc.name or "").split(".")[0]
            if not missing or missing in NEVER_STUB or missing in stubbed or missing in local:
                raise LoadError(f"{type(exc).__name__}: {exc}", missing=exc.name or None, cause=exc) from exc
            stubbed.add(missing)
            _forget(local | stubbed, before, checkout)
        except SystemExit as exc:
            raise LoadError(f"module called sys.exit({exc.code!r}) during import", cause=exc) from exc
        except BaseException as exc:  # noqa: BLE001 - any import error is the case's status
            raise LoadError(f"{type(exc).__name__}: {exc}", cause=exc) from exc
    if module is None:
        raise LoadError(f"gave up after stubbing {MAX_STUBS} packages")
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise LoadError(f"{qualname} not found in {relpath} after import")
    if not isinstance(obj, type):
        raise LoadError(f"{qualname} in {relpath} is not a class")
    return obj, sorted(stubbed | shims.used)


def _import_file(dotted: str, file: Path, checkout: Path) -> types.ModuleType:
    """Import as a package member when possible (relative imports work), else by path."""
    if dotted and all(part.isidentifier() for part in dotted.split(".")):
        try:
            module = importlib.import_module(dotted)
            if Path(getattr(module, "__file__", "") or "").resolve() == file.resolve():
                return module
        except ModuleNotFoundError as exc:
            if exc.name and dotted.startswith(exc.name) and not (checkout / exc.name.replace(".", "/")).exists():
                pass  # the dotted name itself is not importable; fall back to the path
            else:
                raise
    name = "graphcrawl_case_" + "".join(c if c.isalnum() else "_" for c in str(file.relative_to(checkout)))
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
