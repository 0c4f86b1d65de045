"""Find the nn.Module subclasses of a checkout by reading its source, never by running it.

Crawled code is untrusted and importing it runs its top-level code, so the
scan works on the AST alone. It resolves each class's bases through the
file's imports and assignments (`import torch.nn as tnn`, `from torch import
nn as N`, `from torch.nn import Module`, `Base = nn.Module`), relative and
absolute imports of the repo's own modules (also under a `src/`-style
prefix), re-exports in `__init__.py` files and star imports, then iterates to
a fixed point so that subclasses of subclasses in other files are found.
Files that cannot be read are errors in the result, and the scan goes on:
every repo ends with a list of modules and a list of what was not scanned.
"""
from __future__ import annotations

import ast
import io
import os
import re
import stat
import tokenize
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Union

from capture.loading.tolerant import salvage

__all__ = ["ScanResult", "scan_checkout", "TORCH_NN_MODULES", "is_torch_module_name"]

# torch.nn classes that are nn.Module subclasses (public and the private bases that
# projects subclass), as in torch 2.x. A class deriving from torch.nn.<one of these>,
# or torch.nn.<submodules>.<one of these>, is an nn.Module.
TORCH_NN_MODULES = frozenset("""
AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveLogSoftmaxWithLoss AdaptiveMaxPool1d
AdaptiveMaxPool2d AdaptiveMaxPool3d AlphaDropout AvgPool1d AvgPool2d AvgPool3d BCELoss BCEWithLogitsLoss
BatchNorm1d BatchNorm2d BatchNorm3d Bilinear CELU CTCLoss ChannelShuffle CircularPad1d CircularPad2d
CircularPad3d ConstantPad1d ConstantPad2d ConstantPad3d Container Conv1d Conv2d Conv3d ConvTranspose1d
ConvTranspose2d ConvTranspose3d CosineEmbeddingLoss CosineSimilarity CrossEntropyLoss CrossMapLRN2d
DataParallel DistributedDataParallel Dropout Dropout1d Dropout2d Dropout3d ELU Embedding EmbeddingBag
FeatureAlphaDropout Flatten Fold FractionalMaxPool2d FractionalMaxPool3d GELU GLU GRU GRUCell
GaussianNLLLoss GroupNorm Hardshrink Hardsigmoid Hardswish Hardtanh HingeEmbeddingLoss HuberLoss Identity
InstanceNorm1d InstanceNorm2d InstanceNorm3d KLDivLoss L1Loss LPPool1d LPPool2d LPPool3d LSTM LSTMCell
LayerNorm LazyBatchNorm1d LazyBatchNorm2d LazyBatchNorm3d LazyConv1d LazyConv2d LazyConv3d
LazyConvTranspose1d LazyConvTranspose2d LazyConvTranspose3d LazyInstanceNorm1d LazyInstanceNorm2d
LazyInstanceNorm3d LazyLinear LeakyReLU Linear LocalResponseNorm LogSigmoid LogSoftmax MSELoss
MarginRankingLoss MaxPool1d MaxPool2d MaxPool3d MaxUnpool1d MaxUnpool2d MaxUnpool3d Mish Module ModuleDict
ModuleList MultiLabelMarginLoss MultiLabelSoftMarginLoss MultiMarginLoss MultiheadAttention NLLLoss
NLLLoss2d NonDynamicallyQuantizableLinear PReLU PairwiseDistance ParameterDict ParameterList PixelShuffle
PixelUnshuffle PoissonNLLLoss RMSNorm RNN RNNBase RNNCell RNNCellBase RReLU ReLU ReLU6 ReflectionPad1d
ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d ReplicationPad3d SELU Sequential SiLU
Sigmoid SmoothL1Loss SoftMarginLoss Softmax Softmax2d Softmin Softplus Softshrink Softsign SyncBatchNorm
Tanh Tanhshrink Threshold Transformer TransformerDecoder TransformerDecoderLayer TransformerEncoder
TransformerEncoderLayer TripletMarginLoss TripletMarginWithDistanceLoss Unflatten Unfold Upsample
UpsamplingBilinear2d UpsamplingNearest2d ZeroPad1d ZeroPad2d ZeroPad3d _AdaptiveAvgPoolNd
_AdaptiveMaxPoolNd _AvgPoolNd _BatchNorm _CircularPadNd _ConstantPadNd _ConvNd _ConvTransposeMixin
_ConvTransposeNd _DropoutNd _InstanceNorm _LPPoolNd _LazyNormBase _Loss _MaxPoolNd _MaxUnpoolNd _NormBase
_ReflectionPadNd _ReplicationPadNd _WeightedLoss
""".split())
_OTHER_TORCH_MODULES = frozenset({"torch.jit.ScriptModule", "torch.jit.RecursiveScriptModule"})

_SKIP_DIRS = frozenset({"__pycache__", "site-packages", "dist-packages", "node_modules", "venv", "virtualenv"})
_VENV_MARKERS = ("pyvenv.cfg", "conda-meta")


@dataclass
class ScanResult:
    """What a scan found: module dicts sorted by (path, line), files it could not read, files parsed."""

    modules: list[dict[str, Any]]
    errors: list[tuple[str, str]]  # (relpath, message)
    files_scanned: int  # .py files read and parsed; those in `errors` are not counted


def is_torch_module_name(dotted: str) -> bool:
    """Whether a fully qualified name (`torch.nn.modules.conv.Conv2d`) is a torch nn.Module class."""
    return dotted in _OTHER_TORCH_MODULES or (
        dotted.startswith("torch.nn.") and dotted.rsplit(".", 1)[-1] in TORCH_NN_MODULES)


def scan_checkout(root: Path, *, max_file_bytes: int = 2_000_000) -> ScanResult:
    """Every nn.Module subclass defined in the .py files under `root`, found statically.

    Skips hidden directories (.git), virtualenvs and site-packages, does not
    follow symlinked directories, and refuses symlinked files that lead
    outside `root`. Files over `max_file_bytes`, not decodable (PEP 263
    cookies honoured) or not parseable by this Python (Python 2 code) are
    reported in `errors`; a file where only some top-level statements do not
    parse is scanned without them (capture/loading/tolerant.py's salvage, as
    the loader imports it) and reported too.
    """
    root = Path(root)
    errors: list[tuple[str, str]] = []
    files: list[_File] = []
    for rel in _python_files(root):
        parsed = _read_and_parse(root, rel, max_file_bytes)
        if isinstance(parsed, str):
            errors.append((rel, parsed))
        else:
            source, tree, note = parsed
            if note:  # partly scanned (Python 2 lines): said, and its other classes still found
                errors.append((rel, note))
            files.append(_File(rel, source, tree))
    modules = _Index(files).modules()
    modules.sort(key=lambda m: (m["path"], m["line"]))
    return ScanResult(modules=modules, errors=errors, files_scanned=len(files))


# -- finding and reading files -------------------------------------------------------

def _python_files(root: Path) -> Iterator[str]:
    """Relative posix paths of candidate .py files, in a stable order."""
    for dirpath, dirnames, filenames in os.walk(root):  # followlinks=False: linked dirs are not entered
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(dirpath, d))
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield Path(os.path.relpath(os.path.join(dirpath, name), root)).as_posix()


def _skip_dir(parent: str, name: str) -> bool:
    if name.startswith(".") or name in _SKIP_DIRS:
        return True
    return any(os.path.exists(os.path.join(parent, name, marker)) for marker in _VENV_MARKERS)


def _read_and_parse(root: Path, rel: str, max_file_bytes: int) -> tuple[str, ast.Module, str | None] | str:
    """(source, tree, note on statements left out), or an error message saying why the file was not scanned."""
    path = root / rel
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            real, real_root = os.path.realpath(path), os.path.realpath(root)
            if os.path.commonpath([real, real_root]) != real_root:
                return "symlink to outside the checkout, not followed"
            st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return "not a regular file"
        if st.st_size > max_file_bytes:
            return f"file too large ({st.st_size} bytes > {max_file_bytes})"
        data = path.read_bytes()
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # undecodable first lines without a cookie, or an unknown cookie
        msg = getattr(exc, "msg", None) or str(exc)
        return "not UTF-8" if "invalid or missing encoding declaration" in msg \
            else f"bad encoding declaration: {msg}"
    try:
        source = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return "not UTF-8" if encoding in ("utf-8", "utf-8-sig") else f"not valid {encoding}"
    try:
        with warnings.catch_warnings():  # invalid escapes etc. in crawled code: not ours to print
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=rel)
    except SyntaxError as exc:
        said = f"syntax error at line {exc.lineno}: {exc.msg}"
        try:  # the loader skips top-level statements that do not parse: their classes are lost, not the rest
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree, blanked = salvage(source, rel)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return said
        return source, tree, f"{said}; scanned without {len(blanked)} top-level statement(s) that do not parse"
    except ValueError as exc:  # null bytes
        return f"cannot parse: {exc}"
    except (RecursionError, MemoryError):
        return "too deeply nested to parse"
    return source, tree, None


# -- the model of a repo: files, scopes, classes -----------------------------------------

@dataclass(eq=False)
class _Class:
    """A class definition, reduced to what resolution needs (the file's AST is not kept)."""

    file: _File
    qualname: str
    line: int
    bases: list[ast.expr]
    outer: _Class | None  # the class whose body defines this one (its bases are evaluated there)
    methods: dict[str, list[dict[str, Any]]]  # "__init__" / "forward" -> parameters, when defined here
    names: dict[str, list[_Binding]] = field(default_factory=dict)  # its own body's bindings
    base_targets: list[set[_Target]] = field(default_factory=list)  # per base, in order


# A name binding: a class defined here, a dotted name imported ("torch.nn"), or an
# assignment `X = some.expr` evaluated in a scope (a class body, or None for the module).
_Binding = Union[tuple[str, _Class], tuple[str, str], tuple[str, Any, Any]]
# What a base expression resolves to: a class of the repo, or a dotted name outside it.
_Target = Union[tuple[str, _Class], tuple[str, str]]


class _File:
    """One parsed file: its module name, its module-level bindings, its classes."""

    def __init__(self, rel: str, source: str, tree: ast.Module):
        self.rel, self.source = rel, source
        parts = rel[: -len(".py")].split("/")
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        self.modname = ".".join(parts)
        self.package = parts if is_package else parts[:-1]
        self.names: dict[str, list[_Binding]] = {}
        self.stars: list[str] = []  # modules star-imported at module level
        self.classes: list[_Class] = []
        self._line_starts: list[int] | None = None
        self._collect(tree.body, None, "")
        # Keep no AST or source: a big repo's trees take ~30x its source size in memory.
        self.source, self._line_starts = "", None

    def _collect(self, body: list[ast.stmt], outer: _Class | None, prefix: str) -> None:
        """Bindings and classes of a module or class body, through if/try/with/for blocks, not functions."""
        names = self.names if outer is None else outer.names
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                methods = {name: _parameters(fn, self) for name in ("__init__", "forward")
                           if (fn := _method(stmt, name)) is not None}
                cls = _Class(self, prefix + stmt.name, stmt.lineno, stmt.bases, outer, methods)
                self.classes.append(cls)
                names.setdefault(stmt.name, []).append(("class", cls))
                self._collect(stmt.body, cls, cls.qualname + ".")
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        names.setdefault(alias.asname, []).append(("ref", alias.name))
                    else:
                        head = alias.name.split(".")[0]
                        names.setdefault(head, []).append(("ref", head))
            elif isinstance(stmt, ast.ImportFrom):
                base = self._absolute(stmt.module, stmt.level)
                if base is None:
                    continue
                for alias in stmt.names:
                    if alias.name == "*":
                        if outer is None:
                            self.stars.append(base)
                        continue
                    full = f"{base}.{alias.name}" if base else alias.name
                    names.setdefault(alias.asname or alias.name, []).append(("ref", full))
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                if _dotted(stmt.value) is None:
                    continue
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        names.setdefault(target.id, []).append(("alias", outer, stmt.value))
            else:
                for sub in _blocks(stmt):
                    self._collect(sub, outer, prefix)

    def _absolute(self, module: str | None, level: int) -> str | None:
        """The absolute (repo-root-relative for relative imports) name of an ImportFrom's module."""
        if level == 0:
            return module or ""
        if level - 1 > len(self.package):
            return None  # beyond the checkout's root
        base = self.package[: len(self.package) - (level - 1)]
        return ".".join(base + ([module] if module else []))

    def segment(self, node: ast.AST) -> str:
        """The exact source text of a node (ast offsets are UTF-8 byte columns)."""
        if self._line_starts is None:
            starts, pos = [0], 0
            for line in re.split(r"(?<=\r\n)|(?<=\n)|(?<=\r)(?!\n)", self.source):
                pos += len(line)
                starts.append(pos)
            self._line_starts = starts
        try:
            start_line = self._line(node.lineno)
            end_line = self._line(node.end_lineno)  # type: ignore[arg-type]
            start = _char_col(start_line, node.col_offset)  # type: ignore[attr-defined]
            end = _char_col(end_line, node.end_col_offset)  # type: ignore[attr-defined]
            starts = self._line_starts
            return self.source[starts[node.lineno - 1] + start: starts[node.end_lineno - 1] + end]  # type: ignore
        except (AttributeError, IndexError, TypeError):
            return ast.unparse(node)

    def _line(self, lineno: int) -> str:
        starts = self._line_starts
        assert starts is not None
        return self.source[starts[lineno - 1]: starts[lineno]]


def _char_col(line: str, byte_col: int) -> int:
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", "replace"))


def _blocks(stmt: ast.stmt) -> list[list[ast.stmt]]:
    """Nested statement lists that still run in the enclosing (module or class) scope."""
    out = []
    for name in ("body", "orelse", "finalbody"):
        block = getattr(stmt, name, None)
        if isinstance(block, list) and not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append(block)
    for handler in getattr(stmt, "handlers", []) or []:
        out.append(handler.body)
    for case in getattr(stmt, "cases", []) or []:
        out.append(case.body)
    return out


def _dotted(expr: ast.expr) -> list[str] | None:
    """`a.b.c` -> ["a", "b", "c"]; `a.B[T]` -> ["a", "B"]; anything else (calls, ...) -> None."""
    if isinstance(expr, ast.Subscript):
        expr = expr.value
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return parts[::-1]


# -- resolution and the fixed point ---------------------------------------------------

class _Index:
    """Resolve names across the repo's files, then find the nn.Module subclasses."""

    def __init__(self, files: list[_File]):
        self.files = files
        self.by_name: dict[str, list[_File]] = {}
        self.by_suffix: dict[str, list[_File]] = {}
        for f in files:
            self.by_name.setdefault(f.modname, []).append(f)
            parts = f.modname.split(".") if f.modname else []
            for i in range(len(parts)):
                self.by_suffix.setdefault(".".join(parts[i:]), []).append(f)
        self._memo: dict[tuple[str, str], frozenset[_Target]] = {}

    def modules(self) -> list[dict[str, Any]]:
        classes = [c for f in self.files for c in f.classes]
        for cls in classes:
            try:
                cls.base_targets = [self._resolve_expr(base, cls.file, cls.outer) for base in cls.bases]
            except RecursionError:  # a pathological chain of aliases: leave the class unresolved
                cls.base_targets = []
        found: set[_Class] = set()
        changed = True
        while changed:  # fixed point: a subclass of a found class is found
            changed = False
            for cls in classes:
                if cls not in found and any(self._is_module_target(t, found)
                                            for targets in cls.base_targets for t in targets):
                    found.add(cls)
                    changed = True
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for cls in classes:
            if cls in found:  # a qualname defined twice in a file: the last definition is what imports see
                out[(cls.file.rel, cls.qualname)] = self._describe(cls, found)
        return list(out.values())

    @staticmethod
    def _is_module_target(target: _Target, found: set[_Class]) -> bool:
        kind, value = target
        return (kind == "class" and value in found) or (kind == "name" and is_torch_module_name(value))

    # name resolution ------------------------------------------------------------
    def _resolve_expr(self, expr: ast.expr, file: _File, scope: _Class | None) -> set[_Target]:
        parts = _dotted(expr)
        if not parts:
            return set()
        return self._lookup(file, scope, parts[0], parts[1:], frozenset())

    def _lookup(self, file: _File, scope: _Class | None, name: str, attrs: list[str],
                seen: frozenset) -> set[_Target]:
        """Targets of `name.attrs` as seen from `scope` (a class body, then the module) of `file`."""
        key = (file.rel, id(scope), name, tuple(attrs))
        if key in seen:
            return set()  # an import cycle
        seen = seen | {key}
        bindings = (scope.names.get(name) if scope is not None else None) or file.names.get(name)
        if bindings is None:
            out: set[_Target] = set()
            for star in file.stars:
                out |= self._resolve_dotted([*star.split("."), name, *attrs], file, seen)
            return out or {("name", ".".join([name, *attrs]))}  # a builtin (object) or unknown
        out = set()
        for binding in bindings:
            out |= self._follow(binding, attrs, file, seen)
        return out

    def _follow(self, binding: _Binding, attrs: list[str], file: _File, seen: frozenset) -> set[_Target]:
        kind = binding[0]
        if kind == "class":
            cls: _Class = binding[1]  # type: ignore[assignment]
            if not attrs:
                return {("class", cls)}
            out: set[_Target] = set()
            for inner in cls.names.get(attrs[0], []):  # Outer.Inner
                out |= self._follow(inner, attrs[1:], cls.file, seen)
            return out
        if kind == "ref":
            dotted = [p for p in str(binding[1]).split(".") if p]
            return self._resolve_dotted(dotted + attrs, file, seen)
        _, scope, expr = binding  # alias: X = expr
        parts = _dotted(expr)
        return self._lookup(file, scope, parts[0], parts[1:] + attrs, seen) if parts else set()

    def _resolve_dotted(self, parts: list[str], importer: _File, seen: frozenset) -> set[_Target]:
        """An absolute dotted name: torch's, one of the repo's own modules and a name in it, or foreign."""
        full = ".".join(parts)
        if not parts or parts[0] == "torch":
            return {("name", full)}
        memo_key = (importer.rel, full)
        if memo_key in self._memo:
            return set(self._memo[memo_key])
        out: set[_Target] = {("name", full)}
        for i in range(len(parts) - 1, 0, -1):  # the longest prefix that is a module of the repo
            mods = self._modules_named(".".join(parts[:i]), importer)
            if mods:
                out = set()
                for mod in mods:
                    out |= self._lookup(mod, None, parts[i], parts[i + 1:], seen)
                break
        self._memo[memo_key] = frozenset(out)
        return out

    def _modules_named(self, dotted: str, importer: _File) -> list[_File]:
        """Repo files that `import dotted` may mean: an exact match, else the nearest suffix matches.

        Suffix matches cover `src/` layouts and scripts run from a subdirectory;
        among several, the ones sharing most directories with the importer win.
        """
        if dotted in self.by_name:
            return self.by_name[dotted]
        candidates = self.by_suffix.get(dotted, [])
        if len(candidates) <= 1:
            return candidates
        here = importer.rel.split("/")[:-1]

        def shared(f: _File) -> int:
            n = 0
            for a, b in zip(here, f.rel.split("/")[:-1]):
                if a != b:
                    break
                n += 1
            return n

        best = max(shared(f) for f in candidates)
        return [f for f in candidates if shared(f) == best]

    # describing a found class ------------------------------------------------------
    def _describe(self, cls: _Class, found: set[_Class]) -> dict[str, Any]:
        return {
            "path": cls.file.rel,
            "qualname": cls.qualname,
            "line": cls.line,
            "bases": [ast.unparse(b) for b in cls.bases],
            "init_params": self._params(cls, "__init__", found),
            "forward_params": self._params(cls, "forward", found),
        }

    def _params(self, cls: _Class, method: str, found: set[_Class]) -> list[dict[str, Any]] | None:
        """Parameters of `method` defined in the class or, depth-first along its bases, in a found base."""
        stack, visited = [cls], set()
        while stack:
            current = stack.pop(0)
            if current in visited:
                continue
            visited.add(current)
            if method in current.methods:
                return current.methods[method]
            bases = []
            for targets in current.base_targets:
                bases += sorted((t[1] for t in targets if t[0] == "class" and t[1] in found),
                                key=lambda c: (c.file.rel, c.line))
            stack = bases + stack
        return None


def _method(node: ast.ClassDef, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    last = None
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name:
            last = stmt
    return last


def _parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef, file: _File) -> list[dict[str, Any]]:
    """The signature as data; the instance parameter (first positional of a non-static method) is left out."""
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    static = any(_dotted(d) == ["staticmethod"] for d in fn.decorator_list)

    def param(arg: ast.arg, kind: str, default: ast.expr | None) -> dict[str, Any]:
        return {"name": arg.arg, "kind": kind,
                "annotation": file.segment(arg.annotation) if arg.annotation is not None else None,
                "default": file.segment(default) if default is not None else None}

    out = []
    for i, arg in enumerate(positional):
        if i == 0 and not static:
            continue
        out.append(param(arg, "positional", args.defaults[i - first_default] if i >= first_default else None))
    if args.vararg:
        out.append(param(args.vararg, "vararg", None))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        out.append(param(arg, "kwonly", default))
    if args.kwarg:
        out.append(param(args.kwarg, "varkw", None))
    return out
