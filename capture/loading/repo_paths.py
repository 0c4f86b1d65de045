"""Where a repo's own top-level import names live, so they are found, never stubbed.

Why: projects often keep their packages below the repo root (`src/train/model/`)
and run their scripts from that folder, so `from model import common` works for
them but not from the repo root. The loader asks `source_root` for the folder
to put on sys.path: the nearest ancestor of the importing file that contains
the name (a package dir with .py files, or a NAME.py), else the shallowest
folder in the repo that does. Submodules of the repo's own packages that have
no source at all (a compiled extension never built) are told apart by
`has_source`. Only the file system is read; no crawled code runs here.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

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


def _holds(folder: Path, name: str) -> bool:
    pkg = folder / name
    if (folder / f"{name}.py").is_file():
        return True
    return pkg.is_dir() and any(p.suffix == ".py" for p in pkg.iterdir())


def source_root(checkout: Path, name: str, importer: Path | None) -> Path | None:
    """The folder that makes top-level `name` importable from the repo's own code, or None."""
    checkout = Path(checkout).resolve()
    if not name.isidentifier():
        return None
    if importer is not None:
        importer = Path(importer).resolve()
        if checkout in importer.parents:
            folder = importer.parent
            while True:
                if _holds(folder, name):
                    return folder
                if folder == checkout:
                    break
                folder = folder.parent
    folders = _index(str(checkout)).get(name)
    return Path(folders[0]) if folders else None


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
