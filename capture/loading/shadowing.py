"""Keep a crawled repo's files from standing in for a distribution or for themselves.

Why: the loader puts the case file's folder and each folder above it on
sys.path (as the project's scripts see their imports), so any file in those
folders shadows a package of the same top-level name: `import onnx` from
`op/torch/export.py` found the repo's `op/torch/onnx.py`, and
`from decorator import decorator` inside `utils/decorator.py` imported that
very file (a circular import). `RepoGuard`, first on sys.meta_path, answers
top-level imports that would land in the checkout:

- a known distribution's name (capture/loading/known_packages.py) gets the
  installed package; where none is installed, the repo's copy only at one of
  its declared source roots (repo root, src/, a folder with setup.py or
  pyproject.toml), else ModuleNotFoundError, which the loader stubs;
- a file that is importing itself under another name (it is initializing
  right now) is never its own dependency: the next sys.path folder, or missing;
  nor is a package of the repo that is initializing under a longer name
  (`nflows.transforms.UMNN` met again as top-level `UMNN`).

Everything else goes on to the ordinary finders. No crawled code runs here.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from pathlib import Path
from typing import Any

from capture.loading import known_packages, repo_paths


_HERE = str(Path(__file__).resolve().parent) + "/"


def _initializing(origin: str) -> bool:
    """Whether the file at `origin` is the one importing this name right now (the nearest frame
    outside importlib and this package): `from decorator import decorator` inside decorator.py.
    Another file importing it under a second name is ordinary Python and left alone."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith(("<frozen", _HERE)):
            try:
                return str(Path(name).resolve()) == origin
            except (OSError, ValueError):
                return False
        frame = frame.f_back
    return False


class RepoGuard(importlib.abc.MetaPathFinder):
    """Top-level imports that would resolve to repo code where the repo does not provide that name."""

    def __init__(self, checkout: Path, own_top: str | None = None, stubs: Any = None,
                 refused: set[str] | None = None) -> None:
        self.stubs = stubs  # the loader's stub finder: a name it stubs is served before any repo file
        self.checkout = Path(checkout).resolve()
        self.root = str(self.checkout)
        self.own_top = own_top  # the case file's own top package: the repo's by construction
        self.redirected: set[str] = set()
        # names whose repo folder was refused: third-party, for the loader to stub (its set, shared)
        self.refused: set[str] = refused if refused is not None else set()

    def _inside(self, path: str | None) -> bool:
        return bool(path) and (path == self.root or path.startswith(self.root + "/"))

    def find_spec(self, fullname: str, path: Any, target: Any = None):
        if path is not None or "." in fullname or fullname == self.own_top:
            return None
        entries = [p for p in sys.path if isinstance(p, str)]
        spec = importlib.machinery.PathFinder.find_spec(fullname, entries)
        origin = _origin(spec)
        if spec is None or not self._inside(origin):
            return None
        if self.stubs is not None and fullname in self.stubs.roots:
            return self.stubs.find_spec(fullname, None)  # stubbed already: not the repo file of that name
        known = known_packages.is_known(fullname)
        if not known and not _initializing(origin) and not _loading_as_other(origin, fullname):
            return None
        outside = [p for p in entries if not self._inside(str(Path(p).resolve()) if p else p)]
        installed = importlib.machinery.PathFinder.find_spec(fullname, outside)
        if installed is not None:
            self.redirected.add(fullname)
            return installed
        if known and repo_paths.declared_root(self.checkout, _holder(origin, fullname)) and not _initializing(origin):
            return None  # the repo ships it at one of its own source roots: its copy
        if not known:  # a file importing itself: try the folders after the one that found it
            rest = [p for p in entries if str(_holder(origin, fullname)) != str(Path(p or ".").resolve())]
            other = importlib.machinery.PathFinder.find_spec(fullname, rest)
            if other is not None and _origin(other) != origin:
                return other
        self.refused.add(fullname)
        raise ModuleNotFoundError(f"No module named '{fullname}'", name=fullname)


def _loading_as_other(origin: str, name: str) -> bool:
    """Whether the file at `origin` is being initialized right now under another name: `from UMNN
    import x` in `nflows/transforms/UMNN/m.py`, run by `nflows.transforms.UMNN`'s __init__, means
    the PyPI UMNN; the repo's folder of that name would import the half-loaded package twice.
    Only for a package nested in a package (`transforms/__init__.py`): `code/models/` run as
    top-level `models` by the repo's scripts from `code/` is that repo's own name."""
    found = Path(origin)
    if found.name != "__init__.py" or not (found.parent.parent / "__init__.py").is_file():
        return False
    for other, module in list(sys.modules.items()):
        if other == name or not getattr(getattr(module, "__spec__", None), "_initializing", False):
            continue
        file = getattr(module, "__file__", None)
        if file and str(Path(file).resolve()) == origin:
            return True
    return False


def _origin(spec: Any) -> str | None:
    if spec is None:
        return None
    if spec.origin and spec.origin not in ("namespace", "built-in", "frozen"):
        return str(Path(spec.origin).resolve())
    locations = list(spec.submodule_search_locations or [])
    return str(Path(locations[0]).resolve()) + "/__init__.py" if locations else None


def _holder(origin: str | None, name: str) -> Path:
    """The sys.path folder that holds top-level `name` at `origin` (NAME.py or NAME/__init__.py)."""
    p = Path(origin or "")
    return p.parent.parent if p.name == "__init__.py" and p.parent.name == name else p.parent
