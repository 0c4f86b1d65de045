"""Constructor arguments that are the repo's own modules or factories.

Why: crawled constructors take layers, not numbers: `ResBlock(conv, n_feats,
kernel_size)` calls `conv(n, n, k)`, and the repo passes its own
`common.default_conv`; `EncoderLayer(attention, d_model)` stores an attention
layer and calls it in forward. A torch.nn guess (`nn.Conv2d` without padding)
builds but fails the residual add; a number fails in forward. So when the
annotation, default or argument name points at a function or nn.Module class
of the repo's own (loaded) modules, that is what is tried first: functions as
`{"kind": "function"}` specs, built instances as `{"kind": "instance"}` specs
whose constructor args were themselves deduced (capture/deduce/specs.py).
"""
from __future__ import annotations

import importlib
import inspect
import re
import sys
import types
from pathlib import Path
from typing import Any

from torch import nn

_HERE = str(Path(__file__).resolve().parent)
_NOT_REPO = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, _HERE})
# Names too generic to say which class is meant (a `layer` argument is as often an index).
GENERIC = frozenset({"layer", "layers", "block", "blocks", "module", "modules", "model", "net", "network",
                     "input", "output", "x", "m", "fn", "func", "f", "type", "mode", "name", "base", "cell"})


def repo_modules() -> list[types.ModuleType]:
    """Loaded modules whose file belongs to the crawled checkout (not torch, not installed packages, not us)."""
    out = []
    for mod in list(sys.modules.values()):
        file = getattr(mod, "__file__", None)
        if not file or getattr(mod, "__graphcrawl_stub__", False) or "site-packages" in file \
                or file.startswith(_NOT_REPO):
            continue
        out.append(mod)
    return out


def _stem(name: str) -> str:
    return re.sub(r"(_?(layer|type|cls|class|fn|func|module|factory|builder|maker|cfg))$", "", name.lower()).replace("_", "")


def _fits(fn: Any, nargs: int) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    return len(required) <= nargs <= len(positional) or any(p.kind == p.VAR_POSITIONAL for p in params)


def factory_functions(name: str, nargs: int) -> list[dict[str, Any]]:
    """Repo functions a called argument likely stands for: `conv` -> `default_conv(in, out, k)`."""
    stem = _stem(name)
    if len(stem) < 3 or name.lower() in GENERIC:
        return []
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for mod in repo_modules():
        for attr, obj in vars(mod).items():
            if not inspect.isfunction(obj) or obj.__module__ != mod.__name__ or attr.startswith("_"):
                continue
            lname = attr.lower().replace("_", "")
            if stem not in lname or not _fits(obj, nargs):
                continue
            key = f"{mod.__name__}.{attr}"
            found.setdefault(key, (len(lname) - len(stem), {"kind": "function", "module": mod.__name__, "name": attr}))
    return [spec for _, spec in sorted(found.values(), key=lambda t: (t[0], t[1]["module"], t[1]["name"]))][:3]


def instance_classes(owner: type, name: str, annotation: Any = inspect.Parameter.empty) -> list[type]:
    """Repo nn.Module classes an argument names: its annotation first, then by name (`attention` -> AttentionLayer)."""
    ann = "" if annotation is inspect.Parameter.empty else (
        annotation if isinstance(annotation, str) else getattr(annotation, "__name__", ""))
    ann = (ann or "").split(".")[-1].strip("'\"")
    stem = _stem(name)
    by_ann: list[type] = []
    scored: dict[type, int] = {}
    for mod in repo_modules():
        for attr, obj in vars(mod).items():
            if not (isinstance(obj, type) and issubclass(obj, nn.Module)) or obj is owner \
                    or obj.__module__ != mod.__name__ or inspect.isabstract(obj):
                continue
            if ann and obj.__name__ == ann:
                by_ann.append(obj)
                continue
            if len(stem) < 4 or name.lower() in GENERIC:
                continue
            lname = obj.__name__.lower()
            if stem in lname and "forward" in vars(obj):
                scored[obj] = len(lname) - len(stem) + (0 if lname.startswith(stem) or lname.endswith(stem) else 3)
    ranked = sorted(scored, key=lambda c: (scored[c], c.__name__))
    found = list(dict.fromkeys(by_ann + ranked))[:3]
    if not found and (owner, name) not in _looked and (ann or name.lower() not in GENERIC):
        _looked.add((owner, name))
        if _import_siblings(owner, ann or stem):
            return instance_classes(owner, name, annotation)
    return found


_looked: set[tuple[type, str]] = set()


def _import_siblings(owner: type, word: str) -> bool:
    """Import the owner's sibling files that define a class named like `word` (the attention
    layer lives in attn.py, next to the encoder.py that takes one); True if any was imported."""
    if len(word) < 4:
        return False
    module = sys.modules.get(owner.__module__)
    file = getattr(module, "__file__", None)
    package = owner.__module__.rpartition(".")[0]
    if not file or not package:
        return False
    pattern = re.compile(rf"^class\s+\w*{re.escape(word)}\w*\s*\(", re.I | re.M)
    imported = False
    for sibling in sorted(Path(file).parent.glob("*.py"))[:50]:
        name = f"{package}.{sibling.stem}"
        if sibling.stem == "__init__" or name in sys.modules:
            continue
        try:
            if not pattern.search(sibling.read_text(errors="replace")):
                continue
            importlib.import_module(name)
            imported = True
        except Exception:  # noqa: BLE001 - a sibling that does not import offers nothing
            continue
    return imported


def called_later(cls: type) -> dict[str, int]:
    """{__init__ param: positional args} for params stored on self and called elsewhere in the
    class (`self.attention = attention` ... `self.attention(x, x, x)`): layers, not numbers."""
    import ast
    import textwrap
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return {}
    klass = next((n for n in tree.body if isinstance(n, ast.ClassDef)), None)
    if klass is None:
        return {}
    init = next((n for n in klass.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is None:
        return {}
    params = {a.arg for a in init.args.args[1:] + init.args.kwonlyargs}
    stored: dict[str, str] = {}
    for node in ast.walk(init):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in params:
            for t in node.targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                    stored[t.attr] = node.value.id
    out: dict[str, int] = {}
    for fn in klass.body:
        if not isinstance(fn, ast.FunctionDef) or fn.name == "__init__":
            continue
        for node in ast.walk(fn):
            f = node.func if isinstance(node, ast.Call) else None
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self" \
                    and f.attr in stored:
                # `self.fn(x, *args, **kwargs)`: what is passed on is not counted
                out.setdefault(stored[f.attr], sum(not isinstance(a, ast.Starred) for a in node.args))
    return out
