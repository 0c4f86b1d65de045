"""Where a repo's own top-level import names live, so they are found, never stubbed.

Why: projects often keep their packages below the repo root (`src/train/model/`)
and run their scripts from that folder, so `from model import common` works for
them but not from the repo root. The loader asks `source_root` for the folder
to put on sys.path: the nearest ancestor of the importing file that contains
the name (a package dir with .py files, or a NAME.py), else the shallowest
folder in the repo that does. Never the importing file itself (`from decorator
import decorator` inside `utils/decorator.py` means the PyPI package, and so does
`from UMNN import x` inside a package nested as `nflows/transforms/UMNN/`), and for
a known distribution's name (capture/loading/known_packages.py) only a folder
the repo declares as a source root (`declared_root`: the repo root, `src/`, a
folder with setup.py, setup.cfg or pyproject.toml). Submodules of the repo's own packages that have
no source at all (a compiled extension never built) are told apart by
`has_source`. Only the file system is read; no crawled code runs here.
"""
from __future__ import annotations

import ast
import os
import re
from functools import lru_cache
from pathlib import Path

from capture.loading.known_packages import is_known

SKIP_DIRS = frozenset({".git", "__pycache__", "node_modules", "site-packages", ".eggs", "build", "dist"})
MAX_FILES = 50_000


@lru_cache(maxsize=8)
def _index(checkout: str) -> dict[str, list[str]]:
    """{importable top-level name: [folders holding it]} over the whole checkout, shallowest first."""
    found: dict[str, list[str]] = {}
    seen = 0
    for dirpath, dirnames, filenames in os.walk(checkout):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        seen += len(filenames)
        if seen > MAX_FILES:
            break
        for f in filenames:
            if f.endswith(".py") and f != "__init__.py":
                found.setdefault(f[:-3], []).append(dirpath)
        if any(f.endswith(".py") for f in filenames) and dirpath != checkout:
            parent, name = os.path.split(dirpath)
            found.setdefault(name, []).append(parent)
    for name in found:
        found[name] = sorted(set(found[name]), key=lambda d: (d.count(os.sep), d))
    return found


PACKAGING_FILES = ("setup.py", "setup.cfg", "pyproject.toml")


def declared_root(checkout: Path, folder: Path) -> bool:
    """Whether the repo itself makes `folder` a top-level source root: its root, src/, or a packaged folder."""
    checkout, folder = Path(checkout).resolve(), Path(folder).resolve()
    if folder == checkout or folder == checkout / "src":
        return True
    return checkout in folder.parents and any((folder / f).is_file() for f in PACKAGING_FILES)


def _holds(folder: Path, name: str, importer: Path | None = None) -> bool:
    pkg = folder / name
    if (folder / f"{name}.py").is_file():
        return importer is None or (folder / f"{name}.py").resolve() != importer
    if importer is not None and pkg.resolve() in importer.parents and (folder / "__init__.py").is_file():
        # `from UMNN import x` inside `nflows/transforms/UMNN/`: the file's own package, loaded
        # as `nflows.transforms.UMNN`, means the PyPI UMNN; a second copy of it is a circular import
        return False
    return pkg.is_dir() and any(p.suffix == ".py" for p in pkg.iterdir()) \
        and (importer is None or (pkg / "__init__.py").resolve() != importer)


def source_root(checkout: Path, name: str, importer: Path | None) -> Path | None:
    """The folder that makes top-level `name` importable from the repo's own code, or None."""
    checkout = Path(checkout).resolve()
    if not name.isidentifier():
        return None
    known = is_known(name)
    if importer is not None:
        importer = Path(importer).resolve()
        if checkout in importer.parents:
            folder = importer.parent
            while True:
                if _holds(folder, name, importer) and (not known or declared_root(checkout, folder)):
                    return folder
                if folder == checkout:
                    break
                folder = folder.parent
    for found in _index(str(checkout)).get(name) or []:
        folder = Path(found)
        if known and not declared_root(checkout, folder):
            continue
        if importer is not None and not _holds(folder, name, importer):
            continue  # only the importing file itself holds it there
        return folder
    return None


def has_source(package_file: str | None, sub: str) -> bool:
    """Whether `sub` of the package whose __init__ is `package_file` exists as source (.py or folder)."""
    if not package_file:
        return False
    folder = Path(package_file).parent
    return (folder / f"{sub}.py").is_file() or (folder / sub).is_dir()


def defines(module_file: str | None, name: str) -> bool:
    """Whether the module's source binds `name` itself (def, class, assignment, `import x as name`)."""
    if not module_file:
        return False
    try:
        text = Path(module_file).read_text(errors="replace")
    except OSError:
        return False
    n = re.escape(name)
    return bool(re.search(rf"^\s*(def|class)\s+{n}\b|^\s*{n}\s*(:[^=]*)?=[^=]|\bas\s+{n}\b|"
                          rf"^\s*import\s+{n}\b", text, re.M))


def package_name(checkout: Path, file: Path) -> tuple[str, Path] | None:
    """(dotted name, folder to import it from) of a repo file inside a package: up while the
    folders have __init__.py, and at least as many levels as its deepest relative import needs
    (a namespace package the repo's own imports name). None where that leaves the checkout."""
    checkout, file = Path(checkout).resolve(), Path(file).resolve()
    depth, folder = 0, file.parent
    while folder != checkout and (folder / "__init__.py").is_file():
        depth, folder = depth + 1, folder.parent
    try:
        tree = ast.parse(file.read_text(errors="replace"))
        need = max([n.level for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)] + [0])
    except (OSError, SyntaxError, ValueError):
        need = 0
    depth = max(depth, need)  # the package's components; a module adds its own name
    parts = file.relative_to(checkout).with_suffix("").parts
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
        keep = depth
    else:
        keep = depth + 1
    if depth < 1 or keep > len(parts):
        return None
    dotted = parts[len(parts) - keep:]
    if not all(p.isidentifier() for p in dotted):
        return None
    return ".".join(dotted), checkout.joinpath(*parts[: len(parts) - keep])
