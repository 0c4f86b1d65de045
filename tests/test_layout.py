"""The package layout holds: no import circle anywhere, and the arrows run one way.

Read from the source with `ast` (every import, at module level or inside a
function), so a lazy import that closes a circle is caught too.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("graphcrawl", "crawler", "capture", "backend", "db", "reports")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Project modules this file imports (`from pkg import mod` counts as pkg.mod when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {name for name in found if name in known}


def graph() -> dict[str, set[str]]:
    mods = project_modules()
    known = set(mods)
    edges = {}
    for name, path in mods.items():
        own = {n for n in imports_of(path, known) if n != name}
        # importing a package's module also runs the package's __init__ (but not the reverse)
        edges[name] = own | {p for n in own for p in _parents(n) if p in known and not name.startswith(p)}
    return edges


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle_anywhere():
    assert cycles(graph()) == []


def test_the_executors_stand_below_the_driver():
    edges = graph()
    for name, deps in edges.items():
        if name.startswith("crawler.executors"):
            assert "crawler.driver" not in deps, name


def test_lower_layers_do_not_reach_up():
    """db is the shared vocabulary (statuses) and the store; backend compiles and compares;
    neither knows the worker side, and deduction knows nothing of the checks."""
    for name, deps in graph().items():
        if name.startswith("db"):
            assert not {d for d in deps if d.split(".")[0] != "db"}, (name, deps)
        if name.startswith("backend"):
            assert not {d for d in deps if d.split(".")[0] in ("capture", "crawler", "reports")}, (name, deps)
        if name.startswith(("capture.deduce", "capture.loading")):
            assert not {d for d in deps if d.startswith(("capture.checks", "capture.workers"))}, (name, deps)


def test_capture_shows_its_parts():
    """capture/ is sub-packages (plus the shared torch adapter and failure reasons), and no
    module in the tree is only a re-export of another."""
    top = sorted(p.name for p in (ROOT / "capture").glob("*.py"))
    assert top == ["__init__.py", "reasons.py", "torch_api.py"]
    assert {p.name for p in (ROOT / "capture").iterdir() if (p / "__init__.py").exists()} == {
        "checks", "deduce", "loading", "workers"}
    for name, path in project_modules().items():
        tree = ast.parse(path.read_text())
        body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        reexport = body and all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in body)
        assert not reexport or path.name == "__init__.py", f"{name} only re-exports"
