"""Load a file again without the top-level statements that fail, recording each one skipped.

Why: one failing top-level statement kills every class of a file and of each
file importing it: an assertion on the torch version (`assert major == 0 and
minor >= 4`), `os.path.join(cfg.ROOT, ...)` with ROOT None, a read of a file
the repo does not ship, `args = parser.parse_args()` meeting the worker's argv.
When a plain import fails in such a statement (not an import, not a def or
class), the loader marks that file tolerant (`failing_statement`) and imports
again: `TolerantLoader` runs the file one top-level statement at a time, so
imports, definitions and the assignments that work all happen; a statement
that raises and is no import, definition or `raise` of its own is skipped, and so is each
statement the case already recorded as skipped (a replay skips the same ones
without running them). Each skip is recorded on the case as
"skipped:<file>:<line>", beside its stubs, and each name the skipped statement
would have bound is a SkippedName, so `from misc import sphere_edges` imports
and only a use of it fails, saying which statement was skipped. An import or definition that
raises still fails the load: those are the import fixers' to handle; except a
decorator that raises (a registry's `@BACKBONES.register_module` rejecting a
class whose base is a stub): then the class or function is defined without its
decorators, recorded the same way at its `class`/`def` line. A file that does
not parse (Python 2's `print x` in its `__main__` block) loads without the
top-level statements that do not parse (`salvage`), each recorded the same way;
the scanner (crawler/scan.py) finds the classes of such a file the same way.
"""
from __future__ import annotations

import __future__
import ast
import copy
import importlib.abc
import importlib.machinery
import importlib.util
import re
import types
from pathlib import Path
from typing import Any

PREFIX = "skipped:"
_NEVER_SKIPPED = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def skippable(stmt: ast.stmt) -> bool:
    """No import or definition, and no `raise` of its own: a statement written to fail the import
    (`raise RuntimeError("needs the dataset")`) is the author's verdict, never skipped."""
    return not isinstance(stmt, _NEVER_SKIPPED) and not any(isinstance(n, ast.Raise) for n in ast.walk(stmt))


_RESOURCE_TEXT = ("can't allocate memory", "out of memory", "std::bad_alloc", "Cannot allocate memory")


def resource_error(exc: BaseException) -> bool:
    """The machine, not the statement, failed (an allocation): that is the case's oom, never a skip."""
    return isinstance(exc, MemoryError) or any(t in str(exc) for t in _RESOURCE_TEXT)


def mark(checkout: Path, file: str | Path, line: int) -> str:
    return f"{PREFIX}{Path(file).resolve().relative_to(checkout)}:{line}"


def parse_mark(checkout: Path, entry: str) -> tuple[str, int] | None:
    """(absolute file, line) of a recorded "skipped:<file>:<line>", or None for any other stub."""
    if not entry.startswith(PREFIX):
        return None
    rel, _, line = entry[len(PREFIX):].rpartition(":")
    return (str((checkout / rel).resolve()), int(line)) if rel and line.isdigit() else None


def statement_at(file: str, line: int) -> ast.stmt | None:
    """The top-level statement of `file` that holds `line`."""
    try:
        tree = ast.parse(Path(file).read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None
    for stmt in tree.body:
        if _first_line(stmt) <= line <= (stmt.end_lineno or stmt.lineno):
            return stmt
    return None


def _first_line(stmt: ast.stmt) -> int:
    """A decorated definition starts at its first decorator, before its `class`/`def` line."""
    return min([d.lineno for d in getattr(stmt, "decorator_list", [])] + [stmt.lineno])


def undecorated(stmt: ast.stmt) -> bool:
    """A definition whose decorators may be dropped: a class or function that has some."""
    return isinstance(stmt, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and bool(stmt.decorator_list)


MAX_SALVAGED = 50
_CONTINUES = ("else", "elif", "except", "finally", ")", "]", "}", "#")


def _starts_statement(line: str) -> bool:
    text = line.rstrip("\r\n")
    return bool(text) and not text[0].isspace() and not text.startswith(_CONTINUES)


def _top_level_block(lines: list[str], lineno: int) -> tuple[int, int]:
    """(first, last) 1-based lines of the top-level statement around `lineno`, decorators included."""
    lineno = max(1, min(lineno, len(lines)))
    first = lineno
    while first > 1 and not _starts_statement(lines[first - 1]):
        first -= 1
    while first > 1 and lines[first - 2].startswith("@"):
        first -= 1
    last = lineno
    while last < len(lines) and not _starts_statement(lines[last]):
        last += 1
    return first, last


def salvage(source: str, filename: str = "<unknown>") -> tuple[ast.Module, list[int]]:
    """The file's tree without the top-level statements that do not parse (Python 2's `print x`
    in a `__main__` block or a method), and the first line of each one blanked out. Line numbers
    are kept. Raises SyntaxError where blanking whole statements does not make the file parse."""
    lines = source.splitlines(keepends=True)
    blanked: list[int] = []
    while True:
        try:
            return ast.parse("".join(lines), filename), sorted(blanked)
        except SyntaxError as exc:
            if not lines or exc.lineno is None or len(blanked) >= MAX_SALVAGED:
                raise
            first, last = _top_level_block(lines, exc.lineno)
            if first in blanked or (first == 1 and last == len(lines)):
                raise
            lines[first - 1:last] = ["\n"] * (last - first + 1)
            blanked.append(first)


def _unparsable(exc: SyntaxError, root: str) -> tuple[str, int] | None:
    """(file, first blanked line) where a repo file does not parse but salvage can fix it."""
    file = str(Path(exc.filename).resolve()) if exc.filename else ""
    if not file.startswith(root):
        return None
    try:
        _, blanked = salvage(Path(file).read_text(errors="replace"), file)
    except (OSError, SyntaxError, ValueError, RecursionError):
        return None
    return (file, blanked[0]) if blanked else None


def failing_statement(exc: BaseException, checkout: Path) -> tuple[str, int] | None:
    """(file, first line) of the top-level statement whose run raised `exc`, where it may be skipped:
    the innermost module-level frame of a repo file, in a statement that is no import or definition;
    or the first statement of a repo file that does not parse (salvage)."""
    if resource_error(exc):
        return None
    root = str(Path(checkout).resolve()) + "/"
    if isinstance(exc, SyntaxError):
        return _unparsable(exc, root)
    found = None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "<module>" and code.co_filename.startswith(root):
            found = (code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return None
    stmt = statement_at(*found)
    if stmt is not None and undecorated(stmt) and found[1] < stmt.lineno:
        return found[0], stmt.lineno  # its decorator raised: the definition, without decorators
    if stmt is None or not skippable(stmt):
        return None
    return found[0], stmt.lineno


class SkippedName:
    """What a name holds when the top-level statement that would have bound it was skipped.

    `from net_utils.misc import sphere_edges`, where misc.py's line 29 loads a
    data file the repo does not ship, imports this instead of failing every file
    that imports misc.py; a use of it (an attribute, a call, an index, arithmetic,
    truth) raises, naming the name and the skipped statement, so a module that
    really needs the value fails with that reason. Dunder probes (`__torch_function__`,
    `__deepcopy__`) answer AttributeError, as for any object that lacks them.
    """

    __slots__ = ("_name", "_where")

    def __init__(self, name: str, where: str) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_where", where)

    def _fail(self, *_: Any, **__: Any) -> Any:
        raise NameError(f"name {self._name!r} is not defined: its top-level statement ({self._where}) "
                        f"was skipped at import")

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__") or attr in self.__slots__:
            raise AttributeError(attr)
        self._fail()

    def __repr__(self) -> str:
        return f"<{self._name}: skipped at {self._where}>"

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # copy and deepcopy of a module holding one
        return SkippedName, (self._name, self._where)

    __call__ = __getitem__ = __setitem__ = __iter__ = __len__ = __bool__ = __contains__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail
    __matmul__ = __rmatmul__ = __floordiv__ = __mod__ = __pow__ = __neg__ = __lt__ = __gt__ = _fail
    __le__ = __ge__ = __int__ = __float__ = __index__ = __setattr__ = _fail


def _bound_names(stmt: ast.stmt) -> list[str]:
    """Names a top-level statement binds in its module (assignment targets, `for`/`with` targets,
    definitions inside an `if`/`try`), not those of nested scopes."""
    names: list[str] = []
    todo: list[ast.AST] = [stmt]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.append(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not stmt:
            names.append(node.name)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        todo.extend(ast.iter_child_nodes(node))
    return list(dict.fromkeys(names))


def bind_skipped(namespace: dict[str, Any], stmt: ast.stmt, where: str) -> None:
    """Bind each name `stmt` would have bound, and that is still unbound, to a SkippedName."""
    for name in _bound_names(stmt):
        if name not in namespace:
            namespace[name] = SkippedName(name, where)


_DEFINES = re.compile(r"(?:async\s+def|def|class)\s+([A-Za-z_]\w*)|([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=(?!=)")


def _unparsed_names(lines: list[str], first: int) -> list[str]:
    """Names the blanked statement starting at line `first` would have bound (a `def`, a
    `class`, a plain assignment), read from its text: it does not parse."""
    for line in lines[first - 1:]:
        if not line.startswith("@"):
            m = _DEFINES.match(line)
            if m is None:
                return []
            return [m.group(1)] if m.group(1) else [n.strip() for n in m.group(2).split(",")]
    return []


class TolerantLoader(importlib.machinery.SourceFileLoader):
    """Runs a source file statement by statement, skipping those in `skip` and those that fail."""

    def __init__(self, fullname: str, path: str, skip: set[int], record: Any) -> None:
        super().__init__(fullname, path)
        self.skip, self.record = skip, record  # record(file, line): the loader's list of skips

    def exec_module(self, module: types.ModuleType) -> None:
        source = Path(self.path).read_text(errors="replace")
        tree, blanked = salvage(source, self.path)
        lines, file_name = source.splitlines(), Path(self.path).name
        for line in blanked:  # statements that do not parse are skipped like those that fail
            self.record(self.path, line)
            for name in _unparsed_names(lines, line):
                module.__dict__.setdefault(name, SkippedName(name, f"{file_name}:{line}"))
        flags = 0
        for stmt in tree.body:
            where = f"{file_name}:{stmt.lineno}"
            if stmt.lineno in self.skip:
                self.record(self.path, stmt.lineno)
                if not undecorated(stmt):
                    bind_skipped(module.__dict__, stmt, where)
                    continue
                stmt = copy.copy(stmt)
                stmt.decorator_list = []
            if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
                for alias in stmt.names:
                    feature = getattr(__future__, alias.name, None)
                    flags |= getattr(feature, "compiler_flag", 0)
            code = compile(ast.Module(body=[stmt], type_ignores=[]), self.path, "exec", flags=flags, dont_inherit=True)
            try:
                exec(code, module.__dict__)  # noqa: S102 - crawled code, inside the sandbox only
            except (Exception, SystemExit) as exc:
                if not skippable(stmt) or isinstance(exc, ImportError) or resource_error(exc):
                    raise
                self.record(self.path, stmt.lineno)
                bind_skipped(module.__dict__, stmt, where)


class TolerantFinder(importlib.abc.MetaPathFinder):
    """Hands the files marked tolerant to TolerantLoader; every other file loads as usual."""

    def __init__(self, files: dict[str, set[int]], record: Any) -> None:
        self.files, self.record = files, record

    def find_spec(self, fullname: str, path: Any, target: Any = None):
        if not self.files:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        origin = str(Path(spec.origin).resolve()) if spec is not None and spec.origin and spec.has_location else None
        if origin not in self.files:
            return None
        return self.spec_for(fullname, origin, spec.submodule_search_locations)

    def spec_for(self, fullname: str, origin: str, locations: Any = None) -> Any:
        loader = TolerantLoader(fullname, origin, self.files[origin], self.record)
        return importlib.util.spec_from_file_location(fullname, origin, loader=loader,
                                                      submodule_search_locations=locations)
