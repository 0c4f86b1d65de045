"""The value a constructor's own guard accepts, read from the frame that rejected an argument.

Why: `if depth not in self.arch_settings: raise KeyError(f'invalid depth {depth}')`
(mmdet's ResNet family and its many copies) or `assert mode in MODES, ...` name
the values the code accepts, while the message echoes only the rejected one, so
no rule on the message can find a good value. The guard's own test says which
argument and which container; the container is already built when the guard
runs (a class attribute, a module global), so one of its members is a value the
code accepts. It is read from the raising frame's variables: nothing of the
crawled code runs.
"""
from __future__ import annotations

import ast
import inspect
import textwrap
import types
from typing import Any

_SIMPLE = (int, float, str, bool)


def accepted_value(exc: BaseException, names: list[str]) -> tuple[str, Any] | None:
    """(argument, a member of the container its guard checks), innermost frame first, or None.

    `names` are the constructor's argument names and config paths (`cfg.depth`).
    """
    for frame, test, wanted in _guards(exc):
        for target_src, container_node in _memberships(test, wanted):
            target = _match(target_src, names)
            if target is None:
                continue
            value = _first_member(_evaluate(container_node, frame.f_globals, frame.f_locals))
            if value is not None:
                return target, value
    return None


def wanted_length(exc: BaseException, names: list[str]) -> tuple[str, int] | None:
    """(list argument, the length its guard wants): `if num_branches != len(num_channels): raise`."""
    for frame, test, wanted in _guards(exc):
        for node in ast.walk(test):
            if not (isinstance(node, ast.Compare) and len(node.ops) == 1
                    and isinstance(node.ops[0], ast.NotEq if not wanted else ast.Eq)):
                continue
            sides = [node.left, node.comparators[0]]
            for measured, other in (sides, sides[::-1]):
                if isinstance(measured, ast.Call) and isinstance(measured.func, ast.Name) \
                        and measured.func.id == "len" and len(measured.args) == 1:
                    target = _match(ast.unparse(measured.args[0]), names)
                    length = _evaluate(other, frame.f_globals, frame.f_locals) \
                        if isinstance(other, (ast.Name, ast.Attribute)) else getattr(other, "value", None)
                    if target is not None and type(length) is int and 0 < length <= 64:
                        return target, length
    return None


def _guards(exc: BaseException) -> list[tuple[types.FrameType, ast.expr, bool]]:
    """(frame, guard test, the value the test must take to pass) around each raising line, innermost first."""
    frames: list[tuple[types.FrameType, int]] = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return [(frame, test, wanted) for frame, lineno in reversed(frames)
            for test, wanted in _guard_tests(frame.f_code, lineno)]


def _guard_tests(code: types.CodeType, lineno: int) -> list[tuple[ast.expr, bool]]:
    """The tests of the assert at `lineno`, or of the ifs whose branch raises there."""
    try:
        lines, start = inspect.getsourcelines(code)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError, IndentationError, ValueError):
        return []
    line = lineno - max(start, 1) + 1
    out: list[tuple[ast.expr, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.lineno <= line <= (node.end_lineno or node.lineno):
            out.append((node.test, True))
        elif isinstance(node, ast.If):
            if _raises_at(node.body, line):
                out.append((node.test, False))   # the raise runs when the test holds
            elif _raises_at(node.orelse, line):
                out.append((node.test, True))
    return out


def _raises_at(body: list[ast.stmt], line: int) -> bool:
    return any(isinstance(s, ast.Raise) and s.lineno <= line <= (s.end_lineno or s.lineno) for s in body)


def _memberships(test: ast.expr, wanted: bool) -> list[tuple[str, ast.expr]]:
    """Membership tests in `test` that hold when `test` evaluates to `wanted`."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _memberships(test.operand, not wanted)
    if isinstance(test, ast.BoolOp):
        # `a not in A or b not in B` is False only when each holds; `a in A and b in B` True likewise
        if isinstance(test.op, ast.Or) != wanted:
            return [m for v in test.values for m in _memberships(v, wanted)]
        return []
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op = test.ops[0]
        if (isinstance(op, ast.In) and wanted) or (isinstance(op, ast.NotIn) and not wanted):
            return [(ast.unparse(test.left), test.comparators[0])]
    return []


def _match(source: str, names: list[str]) -> str | None:
    """The argument `source` reads: `depth`, `self.depth`, `cfg.depth` or `cfg['depth']`."""
    for name in names:
        last = name.split(".")[-1]
        if source == name or source.endswith("." + last) or source.endswith(f"['{last}']") \
                or (source == last and "." not in name):
            return name
    return None


def _evaluate(node: ast.expr, globals_: dict[str, Any], locals_: dict[str, Any]) -> Any:
    """A container from names, attributes and a plain `.keys()`; no call into crawled code."""
    if isinstance(node, ast.Name):
        return locals_.get(node.id, globals_.get(node.id))
    if isinstance(node, ast.Attribute):
        base = _evaluate(node.value, globals_, locals_)
        if base is None:
            return None
        try:
            return inspect.getattr_static(base, node.attr)
        except AttributeError:
            return None
    if isinstance(node, ast.Call) and not node.args and not node.keywords \
            and isinstance(node.func, ast.Attribute) and node.func.attr == "keys":
        base = _evaluate(node.func.value, globals_, locals_)
        return base if type(base) is dict else None
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [n.value for n in node.elts if isinstance(n, ast.Constant)]
        return items if len(items) == len(node.elts) else None
    return None


def _first_member(container: Any) -> Any:
    """The first member of a plain container that is a simple value (sets: the smallest)."""
    if type(container) in (dict, list, tuple):
        items = list(container)
    elif type(container) in (set, frozenset):
        try:
            items = sorted(container)
        except TypeError:
            return None
    elif type(container) is range:
        items = list(container[:1])
    else:
        return None
    return next((i for i in items if type(i) in _SIMPLE), None)
