"""Find constructor args and forward inputs that make a crawled module run.

Why not a pile of regexes over every torch error (paritybench's way): most
modules say what they want before anything runs. So: read first (the
signatures, annotations and defaults; how __init__ uses each argument and
which layer first touches each forward input, from the source's AST:
capture/deduce/static.py), build the module from plausible values
(capture/deduce/values.py), derive candidate inputs from the layers they meet
(capture/deduce/inputs.py), then try cheaply, letting the error message
propose one change at a time (capture/deduce/fixes.py). Every change that is
tried is a value spec (capture/deduce/specs.py), so the winner is stored as data and
replays exactly; every rule that contributed is recorded in `found_by`.
"""
from __future__ import annotations

import copy
import inspect
import math
import re
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from backend.parity import tensors as output_tensors
from capture import reasons
from capture.deduce import guards, specs
from capture.deduce.fixes import propose
from capture.deduce.inputs import (LENGTH_NAMES, MASK_NAMES, Slot, candidates_from_layer, context_for,
                                   first_layer, make_candidates, name_candidates)
from capture.deduce.static import Use, read_class
from capture.deduce.values import (ConfigProxy, callable_candidates, guess_int, guess_value, value_from_use,
                                   value_to_spec)

# The public contract, plus helpers older callers import from here.
__all__ = ["DeduceFailed", "Deduced", "deduce", "construct", "is_input_error", "run_forward",
           "ConfigProxy", "value_to_spec", "guess_int", "guess_value", "first_layer", "candidates_from_layer"]
from capture.deduce.specs import const

# Deduction's budget is CPU seconds of this process: on a busy machine the same search
# makes the same tries and finds the same case (a wall-clock budget found fewer).
_clock = time.process_time

MAX_FIX_DEPTH = 6
MAX_SOFT_RETRIES = 4


class DeduceFailed(Exception):
    """No args/inputs found; `stage` says where ("init", "inputs" or "eager")."""

    def __init__(self, stage: str, error: BaseException | None, tries: int, found_by: list[str]):
        super().__init__(f"{stage}: {type(error).__name__ if error else 'no candidate'}: {error}")
        self.stage = stage
        self.error = error
        self.tries = tries
        self.found_by = found_by


@dataclass
class Deduced:
    module: nn.Module
    spec: dict[str, Any]
    found_by: list[str] = field(default_factory=list)
    tries: int = 0


# -- constructor ------------------------------------------------------------

def _build_init_value(spec: dict[str, Any], uses: dict[str, Use] | None = None) -> Any:
    """A constructor value; configs become proxies (nested ones too) that answer further reads."""
    if spec["kind"] == "config":
        uses = uses or {}
        fixed = {}
        for k, v in spec["attrs"].items():
            sub = {p[len(k) + 1:]: u for p, u in uses.items() if p.startswith(k + ".")}
            fixed[k] = _build_init_value(v, sub) if v["kind"] == "config" else specs.materialize(v, torch.Generator())
        return ConfigProxy(fixed, uses)
    return specs.materialize(spec, torch.Generator())


def _build_call(cls: type, init: dict[str, Any],
                config_uses: dict[str, dict[str, Use]] | None) -> tuple[list[Any], dict[str, Any]]:
    uses = config_uses or {}
    module_globals = getattr(sys.modules.get(cls.__module__), "__dict__", None)
    for name, spec in init.get("globals", {}).items():
        if module_globals is not None and name not in module_globals:
            module_globals[name] = specs.materialize(spec, torch.Generator())
    args = [_build_init_value(s) for s in init.get("args", [])]
    kwargs = {k: _build_init_value(s, uses.get(k)) for k, s in init.get("kwargs", {}).items()}
    return args, kwargs


def _final_init(init: dict[str, Any], args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    final: dict[str, Any] = {
        "args": [value_to_spec(a) if isinstance(a, ConfigProxy) else s for a, s in zip(args, init.get("args", []))],
        "kwargs": {k: (value_to_spec(kwargs[k]) if isinstance(kwargs[k], ConfigProxy) else s)
                   for k, s in init.get("kwargs", {}).items()},
    }
    if init.get("globals"):
        final["globals"] = dict(init["globals"])
    return final


def construct(cls: type, init: dict[str, Any], seed: int,
              config_uses: dict[str, dict[str, Use]] | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Build the module; config proxies are turned into the specs of what was read.

    `init["globals"]` (optional) names module-level globals the class reads but
    its file defines only under `if __name__ == "__main__"`; they are set on the
    class's module when missing. `config_uses` (optional) tells config proxies
    how the source uses each attribute path.
    """
    args, kwargs = _build_call(cls, init, config_uses)
    torch.manual_seed(seed)
    module = cls(*args, **kwargs)
    return module, _final_init(init, args, kwargs)


MISSING_ARG = re.compile(r"missing (\d+ )?required (positional|keyword-only) arguments?: (.*)")
UNEXPECTED_ARG = re.compile(r"got an unexpected keyword argument '(\w+)'")
NOT_DEFINED = re.compile(r"name '(\w+)' is not defined")
WANTS_LIST = re.compile(r"'int' object is not (iterable|subscriptable)|object of type 'int' has no len|"
                        r"cannot unpack non-iterable int|should be called with an iterable, but got int|"
                        r"must be an iterable, not int|'int' object is not reversible|zip argument #\d+ must support iteration")
WANTS_OBJECT = re.compile(r"'(int|float|bool|str|list)' object has no attribute '(\w+)'")
WANTS_CALLABLE = re.compile(r"'(int|NoneType|str|float|bool|ConfigProxy)' object is not callable")
WANTS_VALUE = re.compile(r"'NoneType' object (has no attribute|is not (iterable|subscriptable))|"
                         r"unsupported operand type\(s\) for .*'NoneType'|NoneType' and|"
                         r"must be (int|real number|a number), not NoneType")
WANTS_SCALAR = re.compile(r"unsupported operand type\(s\) for .*: '(list|tuple)' and '(int|float)'|"
                          r"'(list|tuple)' object cannot be interpreted as an integer|must be int, not (list|tuple)|"
                          r"unsupported operand type\(s\) for .*: '(int|float)' and '(list|tuple)'|"
                          r"must be tuple of ints, but found element of type (list|tuple)|"
                          r"type must be tuple of ints,\s*but got (list|tuple)|"
                          r"(int|float)\(\) argument must be a string, a bytes-like object or a (real )?number, "
                          r"not '(list|tuple)'")
WANTS_INT = re.compile(r"must be tuple of ints, but found element of type float|must be tuple of ints, not float|'float' object cannot be interpreted as an integer|"
                       r"argument '\w+' must be int, not float|float object cannot be interpreted|"
                       r"received an invalid combination of arguments.*float")
MODULE_ATTRS = re.compile(r"^(parameters|state_dict|eval|train|weight|bias|forward|modules|children|"
                          r"named_parameters|to|cuda|token_emb|attn_layers|max_seq_len|emb_dim|dim|net|model|"
                          r"num_tokens|pad_value|ignore_index)$")


def _crawled_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    """Frames of crawled code (not torch's, not ours), innermost last."""
    torch_dir = torch.__file__.rsplit("/", 1)[0]
    here = __file__.rsplit("/", 1)[0]
    return [f for f in traceback.extract_tb(exc.__traceback__)
            if not f.filename.startswith((torch_dir, here)) and "/lib/python" not in f.filename]


def _culprits(exc: BaseException, names: list[str]) -> list[str]:
    """The arguments named on the innermost crawled source line that raised."""
    for frame in reversed(_crawled_frames(exc)):
        line = frame.line or ""
        found = [n for n in names if re.search(rf"\b{re.escape(n.split('.')[-1])}\b", line)]
        if found:
            return found
    return []


@dataclass
class _InitState:
    kwargs: dict[str, dict[str, Any]]
    rules: dict[str, str]
    alternatives: dict[str, list[dict[str, Any]]]
    globals: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)


def _required_params(fn: Any) -> tuple[list[inspect.Parameter], bool]:
    """Required named params (self dropped), and whether *args is accepted."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return [], False
    params = list(sig.parameters.values())
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    required = [p for p in params if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    return required, varargs


# Flags that make a constructor download weights (no network in the sandbox, and graph
# capture does not need trained weights): set to skip them.
PRETRAINED_FLAG = re.compile(r"^(pretrained|pretrain|use_pretrained|load_pretrained|pretrained_backbone|"
                             r"imagenet_pretrained|load_weights|download|from_pretrained|use_pretrain|"
                             r"pretrained_base|backbone_pretrained|is_pretrained|load_pretrain)$", re.I)
PRETRAINED_PATH = re.compile(r"^(weights|pretrained_weights|weights_path|weight_path|pretrained_path|"
                             r"pretrained_model|pretrained_model_path|checkpoint|ckpt|ckpt_path|"
                             r"checkpoint_path|model_path|pretrained_ckpt|init_checkpoint|pretrained_file|"
                             r"weights_url|model_url|url)$", re.I)
MAX_NESTED = 1  # an instance argument's own instance arguments are not built


def _skip_pretrained(cls: type, state: _InitState) -> None:
    """Optional args that would fetch weights: `pretrained=True` -> False, `weights="imagenet"` -> None."""
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return
    for p in params:
        if p.default is inspect.Parameter.empty or p.name in state.kwargs:
            continue
        if PRETRAINED_FLAG.match(p.name) and p.default is True:
            state.kwargs[p.name] = const(False)
        elif PRETRAINED_PATH.match(p.name) and p.default not in (None, False, "") \
                and not isinstance(p.default, (bool, int, float)):
            state.kwargs[p.name] = const(None)
        else:
            continue
        state.rules[p.name] = "init:no-pretrained"


def _initial_init_state(cls: type) -> tuple[_InitState, dict[str, dict[str, Use]]]:
    required, _ = _required_params(cls.__init__)
    reading = read_class(cls, "__init__")
    state = _InitState(kwargs={}, rules={}, alternatives={})
    config_uses: dict[str, dict[str, Use]] = {}
    for p in required:
        _fill_param(cls, state, p.name, reading.use(p.name), p.annotation)
        config_uses[p.name] = reading.paths_under(p.name)
    _skip_pretrained(cls, state)
    return state, config_uses


_nesting = [0]


def _instances(cls: type, name: str, annotation: Any) -> list[dict[str, Any]]:
    """Built instances of repo classes the argument names (capture/deduce/repo_args.py), as specs."""
    from capture.deduce.repo_args import instance_classes
    if _nesting[0] >= MAX_NESTED:
        return []
    out = []
    for klass in instance_classes(cls, name, annotation):
        _nesting[0] += 1
        try:
            _, final, _, _ = deduce_init(klass, 0, _clock() + 3.0, 8)
        except Exception:  # noqa: BLE001 - a candidate that does not build is skipped
            continue
        finally:
            _nesting[0] -= 1
        out.append({"kind": "instance", "module": klass.__module__, "name": klass.__qualname__, "init": final})
    return out


def _fill_param(cls: type, state: _InitState, name: str, use: Use, annotation: Any = inspect.Parameter.empty) -> None:
    from capture.deduce.repo_args import called_later
    spec, rule = value_from_use(name, use, annotation)
    if spec["kind"] != "class" and not (use.roles or use.is_int or use.iterated or use.keys or use.str_choices
                                        or use.unpack or use.called):
        built = _instances(cls, name, annotation)
        if built:
            state.kwargs[name], state.alternatives[name] = built[0], built[1:] + [spec]
            state.rules[name] = "init:repo-instance"
            return
        if called_later(cls).get(name) == 1 and spec["kind"] != "module" and not use.attrs:
            # stored and called with one input later: a layer; the identity is the neutral one
            state.kwargs[name], state.alternatives[name] = {"kind": "module", "name": "Identity"}, [spec]
            state.rules[name] = "init:called-later"
            return
    if spec["kind"] == "class":
        nargs = use.called[0] if use.called else 1
        alts = callable_candidates(cls, name, nargs)
        spec, state.alternatives[name] = alts[0], alts[1:]
    elif spec["kind"] == "const" and isinstance(spec["value"], str) and use.str_choices:
        state.alternatives[name] = [const(c) for c in use.str_choices[1:]] + [const(None)]
    elif spec["kind"] == "const" and spec["value"] is None:
        state.alternatives[name] = [{"kind": "module", "name": "Identity"}, const(16)]
    state.kwargs[name] = spec
    state.rules[name] = rule


SMALL_INT_NAMES = re.compile(r"kernel|stride|pad|dilation|groups|heads|head|layers|depth|blocks|repeat|"
                             r"factor|scale|ratio|expansion|expand|mult|reduction|num_|n_|^k$", re.I)


def _scaled(spec: dict[str, Any], scale: int, keep: tuple[int, ...] = (0, 1, 3), name: str = "") -> dict[str, Any]:
    """Size-like ints set to `scale` (divisibility and minimum-size asserts want other sizes).

    Kernel sizes, strides, depths and counts are left alone: a 64-wide kernel
    or 64 layers make a module too slow to try, not more likely to build.
    """
    if spec["kind"] == "const" and type(spec["value"]) is int and spec["value"] not in keep:
        if re.search(r"kernel|stride|pad|dilation", name, re.I) or (
                SMALL_INT_NAMES.search(name) and not re.search(r"dim|channel|feature|hidden|size|width|planes|emb", name, re.I)):
            return spec
        if spec["value"] < 8 and spec["value"] != 3:
            return spec
        return const(scale)
    if spec["kind"] in ("list", "tuple"):
        return {**spec, "items": [_scaled(s, scale, keep, name) for s in spec["items"]]}
    if spec["kind"] == "config":
        return {**spec, "attrs": {k: _scaled(s, scale, keep, k) for k, s in spec["attrs"].items()}}
    return spec


def _remapped(spec: dict[str, Any], mapping: dict[int, int]) -> dict[str, Any]:
    if spec["kind"] == "const" and type(spec["value"]) is int and spec["value"] in mapping:
        return const(mapping[spec["value"]])
    if spec["kind"] in ("list", "tuple"):
        return {**spec, "items": [_remapped(s, mapping) for s in spec["items"]]}
    if spec["kind"] == "config":
        return {**spec, "attrs": {k: _remapped(s, mapping) for k, s in spec["attrs"].items()}}
    return spec


def _size_clash(error: BaseException | None, inputs_tried: Any = None) -> dict[int, int] | None:
    """A channel count forward makes itself (x.unsqueeze(1) into Conv2d(3, ...)): rebuild with it."""
    m = re.search(r"expected input\[[\d, ]+\] to have (\d+) channels, but got (\d+) channels", str(error or ""))
    if m and m.group(1) != m.group(2):
        return {int(m.group(1)): int(m.group(2))}
    return None


SAME_PADDING = "same-padding"
SAME_PADDING_TRIES = 10
SIZE_MISMATCH = re.compile(r"must match the size of tensor b|Sizes of tensors must match|"
                           r"stack expects each tensor to be equal size")
PADDING_NAMES = re.compile(r"^(padding|pad|pad_size|padding_size)$")
KERNEL_NAMES = re.compile(r"^(kernel_size|kernel|ksize|k_size|kernel_sz|ks|k)$")


def _zero_padding(cls: type) -> list[inspect.Parameter]:
    """Optional padding args that default to 0: a residual `x + conv(x)` then shrinks by kernel-1."""
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return []
    return [p for p in params if PADDING_NAMES.match(p.name) and type(p.default) is int and p.default == 0]


def _same_padding(cls: type, state: _InitState) -> None:
    """Padding `kernel // 2` where it defaults to 0, so outputs keep their input's size (a residual adds them)."""
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return
    kernel = 3
    for p in params:
        if KERNEL_NAMES.match(p.name):
            spec = state.kwargs.get(p.name)
            value = spec["value"] if spec is not None and spec["kind"] == "const" else p.default
            if type(value) is int and value > 0:
                kernel = value
            break
    for p in _zero_padding(cls):
        if p.name not in state.kwargs:
            state.kwargs[p.name] = const(kernel // 2)


def _init_fix(cls: type, exc: BaseException, state: _InitState, reading_uses: dict[str, Use]) -> str | None:
    """Apply one change suggested by a constructor error; return its rule name, or None."""
    msg = str(exc)
    names = list(state.kwargs)
    config_attrs = [f"{k}.{a}" for k, s in state.kwargs.items() if s["kind"] == "config" for a in s["attrs"]]
    m = MISSING_ARG.search(msg)
    if isinstance(exc, TypeError) and m:
        added = False
        for name in re.findall(r"'(\w+)'", m.group(3)):
            if name not in state.kwargs:
                _fill_param(cls, state, name, reading_uses.get(name) or Use())
                added = True
        return "init:missing-arg" if added else None
    m = UNEXPECTED_ARG.search(msg)
    if isinstance(exc, TypeError) and m and m.group(1) in state.kwargs:
        state.kwargs.pop(m.group(1))
        return "init:unexpected-arg"
    m = NOT_DEFINED.search(msg)
    if isinstance(exc, NameError) and m and m.group(1) not in state.globals:
        name = m.group(1)
        state.globals[name] = guess_value(name)
        if state.globals[name]["kind"] != "const":
            state.globals[name] = const(16)
        return "init:missing-global"
    accepted = guards.accepted_value(exc, names + config_attrs)
    if accepted is not None and accepted[0] + "#guard" not in state.changed and _get(state, accepted[0]) is not None:
        state.changed.add(accepted[0] + "#guard")
        _set(state, accepted[0], const(accepted[1]))
        return "init:guard-member"
    sized = guards.wanted_length(exc, names + config_attrs)
    if sized is not None and f"{sized[0]}#len{sized[1]}" not in state.changed:
        spec = _get(state, sized[0])
        if spec is not None and spec["kind"] in ("list", "tuple") and spec["items"]:
            state.changed.add(f"{sized[0]}#len{sized[1]}")
            _set(state, sized[0], {"kind": spec["kind"], "items": [dict(spec["items"][i % len(spec["items"])])
                                                                     for i in range(sized[1])]})
            return "init:guard-length"
    culprits = _culprits(exc, names + config_attrs)
    if WANTS_LIST.search(msg):
        for n in culprits or names:
            spec = _get(state, n)
            if spec is not None and spec["kind"] == "const" and isinstance(spec["value"], int) and n not in state.changed:
                _set(state, n, {"kind": "list", "items": [const(spec["value"])] * 4})
                return "init:int-to-list"
        for n in culprits or names:
            spec = _get(state, n)
            if spec is not None and spec["kind"] == "list" and spec["items"] and spec["items"][0]["kind"] == "const" \
                    and n + "[]" not in state.changed:
                state.changed.add(n + "[]")
                _set(state, n, {"kind": "list", "items": [{"kind": "list", "items": [s, s]} for s in spec["items"]]})
                return "init:nested-list"
    m = WANTS_OBJECT.search(msg)
    if m:
        for n in culprits or names:
            spec = _get(state, n)
            if spec is not None and spec["kind"] in ("const", "list") and n not in state.changed:
                _set(state, n, {"kind": "config", "attrs": {}})
                return "init:value-to-config"
    if WANTS_CALLABLE.search(msg):
        for n in culprits or names:
            spec = _get(state, n)
            if spec is not None and spec["kind"] in ("const", "config", "module") and n not in state.changed:
                # called while the constructor runs: a class (the file's BasicBlock, ...)
                alts = callable_candidates(cls, n.split(".")[-1], 1) if "." not in n else [
                    {"kind": "class", "module": "torch.nn", "name": "Identity"}]
                _set(state, n, alts[0])
                if "." not in n:
                    state.alternatives[n] = alts[1:]
                return "init:value-to-class"
    m = re.search(r"^'?([\w.\- ]*)'?$", msg)
    if isinstance(exc, KeyError) and m:
        rule = _dict_key_fix(exc, state, names + config_attrs)
        if rule:
            return rule
    if WANTS_SCALAR.search(msg):
        # as for WANTS_INT: the list may be an argument the raising line names by another name
        # (`filters` passed on as a helper's `out_channels`): the named ones first, then the others
        for n in culprits + [n for n in names if n not in culprits]:
            spec = _get(state, n)
            if spec is not None and spec["kind"] in ("list", "tuple") and spec["items"] \
                    and spec["items"][0]["kind"] == "const" and n + "#scalar" not in state.changed:
                state.changed.add(n + "#scalar")
                _set(state, n, dict(spec["items"][0]))
                return "init:list-to-scalar"
    if WANTS_INT.search(msg):
        # the float may come from an argument the raising line does not name (a size computed
        # from growth_rate one call up): the named ones first, then the others
        for n in culprits + [n for n in names if n not in culprits]:
            spec = _get(state, n)
            if spec is not None and spec["kind"] == "const" and isinstance(spec["value"], float) and n not in state.changed:
                _set(state, n, const(int(spec["value"]) or 1))
                return "init:float-to-int"
    if WANTS_VALUE.search(msg):
        for n in culprits or names:
            spec = _get(state, n)
            if spec is not None and spec["kind"] == "const" and spec["value"] is None and n not in state.changed:
                _set(state, n, const(guess_int(n.split(".")[-1]) or 16))
                return "init:none-to-int"
    for n in culprits:
        if state.alternatives.get(n):
            state.kwargs[n] = state.alternatives[n].pop(0)
            return "init:next-choice"
    return None


def _dict_key_fix(exc: KeyError, state: _InitState, names: list[str]) -> str | None:
    """`CFG[name]` raised KeyError: give `name` the container's first key (read from the raising frame)."""
    import ast
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        try:
            line = traceback.extract_stack(frame, limit=1)[0].line or ""
            tree = ast.parse(line.strip().rstrip(":").removeprefix("return ").strip() or "0")
        except (SyntaxError, IndexError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Subscript):
                continue
            key_src = ast.unparse(node.slice)
            target = next((n for n in names if key_src == n or key_src.endswith("." + n.split(".")[-1])
                           or key_src.endswith(f"['{n.split('.')[-1]}']")), None)
            if target is None or target in state.changed:
                continue
            container = _lookup(node.value, frame.f_globals, frame.f_locals)
            keys = list(container.keys()) if isinstance(container, dict) else []
            if keys and isinstance(keys[0], (str, int, float, bool)):
                _set(state, target, const(keys[0]))
                return "init:dict-key"
    return None


def _lookup(node: Any, globals_: dict[str, Any], locals_: dict[str, Any]) -> Any:
    """The value of `NAME` or `NAME.attr...` in a frame (no calls: nothing of crawled code runs)."""
    import ast
    if isinstance(node, ast.Name):
        return locals_.get(node.id, globals_.get(node.id))
    if isinstance(node, ast.Attribute):
        base = _lookup(node.value, globals_, locals_)
        try:
            return object.__getattribute__(base, node.attr) if base is not None else None
        except AttributeError:
            return None
    return None


def _get(state: _InitState, name: str) -> dict[str, Any] | None:
    if "." in name:
        root, attr = name.split(".", 1)
        spec = state.kwargs.get(root)
        return spec["attrs"].get(attr) if spec and spec["kind"] == "config" else None
    return state.kwargs.get(name)


def _set(state: _InitState, name: str, spec: dict[str, Any]) -> None:
    state.changed.add(name)
    if "." in name:
        root, attr = name.split(".", 1)
        state.kwargs[root]["attrs"][attr] = spec
    else:
        state.kwargs[name] = spec


def deduce_init(cls: type, seed: int, deadline: float, max_tries: int,
                prescale: tuple[int, tuple[int, ...]] | dict[int, int] | str | None = None) -> tuple[nn.Module, dict[str, Any], list[str], int]:
    """Build the module from plausible args, fixing one thing per failed try.

    `prescale` rebuilds with other sizes: (scale, ints kept) for every
    size-like int, {old: new} for ints of one value, or SAME_PADDING for
    `kernel // 2` where padding defaults to 0 (sizes 32, so a residual's in == out).
    """
    state, config_uses = _initial_init_state(cls)
    if prescale == SAME_PADDING:  # a residual block: same padding, and sizes 32 so in == out
        state.kwargs = {k: _scaled(s, 32, (0, 1), name=k) for k, s in state.kwargs.items()}
        _same_padding(cls, state)
    elif isinstance(prescale, dict):
        state.kwargs = {k: _remapped(s, prescale) for k, s in state.kwargs.items()}
    elif prescale is not None:
        state.kwargs = {k: _scaled(s, *prescale, name=k) for k, s in state.kwargs.items()}
    reading = read_class(cls, "__init__")
    fixes: list[str] = []
    tries = 0
    last: BaseException | None = None
    scale_variants: list[tuple[int, tuple[int, ...]]] = [(64, (0, 1, 3)), (64, (0, 1)), (8, (0, 1)), (16, (0, 1))]
    while tries < max_tries and _clock() < deadline:
        tries += 1
        init: dict[str, Any] = {"args": [], "kwargs": copy.deepcopy(state.kwargs)}
        if state.globals:
            init["globals"] = dict(state.globals)
        try:
            module, final = _construct_recording(cls, init, seed, config_uses, state)
        except Exception as exc:  # noqa: BLE001 - crawled constructors raise anything
            last = exc
            if reasons.is_network_error(exc):
                break  # it downloads weights: no other args will help (capture/reasons.py)
            rule = _init_fix(cls, exc, state, reading.uses)
            if rule is not None:
                fixes.append(rule)
                continue
            if not scale_variants:
                break
            scale, keep = scale_variants.pop(0)
            state.kwargs = {k: _scaled(s, scale, keep, k) for k, s in state.kwargs.items()}
            fixes.append(f"init:ints={scale}")
            continue
        if not isinstance(module, nn.Module):
            raise DeduceFailed("init", TypeError(f"{cls.__name__}() did not return an nn.Module"), tries, [])
        rules = sorted(set(state.rules.values())) or ["init:defaults"]
        if prescale == SAME_PADDING:
            fixes.append("init:same-padding")
        elif isinstance(prescale, dict):
            fixes.append("init:retry-from-input-error")
        elif prescale is not None:
            fixes.append(f"init:retry-ints={prescale[0]}")
        return module, final, rules + _dedupe(fixes), tries
    raise DeduceFailed("init", last, tries, sorted(set(state.rules.values())) + _dedupe(fixes))


def _construct_recording(cls: type, init: dict[str, Any], seed: int, config_uses: dict[str, dict[str, Use]],
                         state: _InitState) -> tuple[nn.Module, dict[str, Any]]:
    """construct(), but on failure keep the config values read, so a fix can change one of them."""
    args, kwargs = _build_call(cls, init, config_uses)
    torch.manual_seed(seed)
    try:
        module = cls(*args, **kwargs)
    except Exception:
        for name, value in kwargs.items():
            if isinstance(value, ConfigProxy) and state.kwargs.get(name, {}).get("kind") == "config":
                merged = dict(value.to_spec()["attrs"])
                merged.update(state.kwargs[name]["attrs"])
                state.kwargs[name] = {"kind": "config", "attrs": merged}
        raise
    return module, _final_init(init, args, kwargs)


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


# -- forward inputs -----------------------------------------------------------

SHAPE_ERRORS = re.compile(
    r"shape|size|dimension|dim |channels|expected input|mat1|mat2|must match|"
    r"Expected \d|out of range|unpack|index|scalar type|dtype|Long|Int|Float|"
    r"positional argument|not enough values|too many values|got input|broadcast|view|reshape|"
    r"length|too small|tuple of Tensors|must be a matrix|Expected.*(tensor|input)|indices|"
    r"only integer tensors|boolean|mask|batch|sequence|does not fit a tensor|pattern|between 0 and 1", re.I)


def is_input_error(exc: BaseException) -> bool:
    """Whether an error looks like a wrong input rather than a broken module."""
    if isinstance(exc, (TypeError, IndexError, ValueError, AssertionError, KeyError, NotImplementedError)) \
            and SHAPE_ERRORS.search(str(exc)):
        return not isinstance(exc, NotImplementedError) or "Only" in str(exc)
    return isinstance(exc, RuntimeError) and bool(SHAPE_ERRORS.search(str(exc)))


def run_forward(module: nn.Module, inputs: dict[str, Any], seed: int) -> Any:
    args, kwargs = specs.materialize_call(inputs, specs.make_generator(seed))
    torch.manual_seed(seed)
    with torch.no_grad():
        return module(*args, **kwargs)


def _output_problem(out: Any) -> str | None:
    """None when the output is usable for capture and parity; else what is wrong with it."""
    tensors = output_tensors(out)  # result objects opened, as the checks compare them
    if not tensors:
        return "no tensor in the output"
    floats = [t for t in tensors if t.is_floating_point() and t.numel()]
    if floats and all(not bool(torch.isfinite(t).all()) for t in floats):
        return "output is not finite"
    return None


MAX_INPUT_NUMEL = 1 << 20


def _too_big(inputs: dict[str, Any]) -> bool:
    """Inputs stay small (Inductor compiles stay quick, a wrong guess stays cheap)."""
    from capture.deduce.fixes import leaves
    return any(math.prod(s["shape"]) > MAX_INPUT_NUMEL or any(d <= 0 for d in s["shape"])
               for _, s in leaves(inputs))


@dataclass
class _Attempt:
    inputs: dict[str, Any]
    rules: list[str]
    depth: int = 0
    root: int = 0  # which first attempt this one was fixed from
    primary: Any = None  # a first attempt with a primary other than the best: (rule, spec) of that primary


# Tries one first attempt and the fixes grown from it may take before the other first attempts
# get their turn: a fix chain on a wrong first guess (an image where a padding mask was the
# problem) otherwise spends the whole budget while the right alternative waits at the back.
# Its later fixes are not dropped, only queued behind the first attempts not yet tried.
FIX_TRIES_PER_ROOT = 20


def _assemble(slots: list[Slot], choices: list[tuple[str, dict[str, Any]]]) -> _Attempt:
    inputs: dict[str, Any] = {"args": [], "kwargs": {}}
    for slot, (_, spec) in zip(slots, choices):
        if slot.keyword:
            inputs["kwargs"][slot.name] = spec
        else:
            inputs["args"].append(spec)
    rules = [r for r, _ in choices]
    return _Attempt(inputs, rules)


def _first_attempts(slots: list[Slot], cands: Any) -> list[_Attempt]:
    """All-best first, then each slot's alternatives in turn (the first slot's first)."""
    primary_list = cands(0, None)
    attempts: list[_Attempt] = []

    def rest(primary: tuple[str, dict[str, Any]]) -> list[list[tuple[str, dict[str, Any]]]]:
        return [cands(i, primary[1]) for i in range(1, len(slots))]

    for k, p in enumerate(primary_list[:10]):
        others = rest(p)
        attempts.append(_assemble(slots, [p] + [o[0] for o in others]))
        if k > 0 and len(slots) > 1 and p[0].startswith("layer:"):  # one the first layer asked for, no generic guess
            attempts[-1].primary = p
    if len(slots) > 1:
        best = primary_list[0]
        others = rest(best)
        for i, lst in enumerate(others, start=1):
            for alt in lst[1:5]:
                choice = [best] + [o[0] for o in others]
                choice[i] = alt
                attempts.append(_assemble(slots, choice))
    return attempts


def _alternatives_with(slots: list[Slot], cands: Any, primary: tuple[str, dict[str, Any]], root: int) -> list[_Attempt]:
    """Each other slot's alternatives in turn, with `primary` for the first slot."""
    others = [cands(i, primary[1]) for i in range(1, len(slots))]
    out = []
    for i, lst in enumerate(others, start=1):
        for alt in lst[1:5]:
            choice = [primary] + [o[0] for o in others]
            choice[i] = alt
            out.append(_assemble(slots, choice))
            out[-1].root = root
    return out


def _set_global(module: nn.Module, name: str, init_spec: dict[str, Any]) -> bool:
    """A global that forward reads but the file sets only under __main__: guess it, record it."""
    module_globals = getattr(sys.modules.get(type(module).__module__), "__dict__", None)
    if module_globals is None or name in module_globals or name in init_spec.get("globals", {}):
        return False
    spec = guess_value(name)
    if spec["kind"] != "const":
        spec = const(16)
    module_globals[name] = specs.materialize(spec, torch.Generator())
    init_spec.setdefault("globals", {})[name] = spec
    return True


def deduce_inputs(module: nn.Module, seed: int, deadline: float, max_tries: int,
                  init_spec: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str], int, BaseException | None]:
    """Try candidates for forward's inputs; return the first that runs, or the error that stopped it."""
    slots, ctx, cands = make_candidates(module, init_spec or {})
    if not slots:
        queue = deque([_Attempt({"args": [], "kwargs": {}}, ["no-inputs"])])
    else:
        queue = deque(_first_attempts(slots, cands))
    for i, first in enumerate(queue):
        first.root = i
    per_root: dict[int, int] = {}
    tries = 0
    last: BaseException | None = None
    deep_error: BaseException | None = None
    soft: tuple[dict[str, Any], list[str]] | None = None
    soft_left = MAX_SOFT_RETRIES
    seen: set[str] = set()
    while queue and tries < max_tries and _clock() < deadline:
        attempt = queue.popleft()
        key = repr(attempt.inputs)
        if key in seen:
            continue
        seen.add(key)
        if _too_big(attempt.inputs):
            continue
        tries += 1
        per_root[attempt.root] = per_root.get(attempt.root, 0) + 1
        try:
            out = run_forward(module, attempt.inputs, seed)
        except Exception as exc:  # noqa: BLE001 - crawled forwards raise anything
            last = exc
            m = NOT_DEFINED.search(str(exc))
            if isinstance(exc, NameError) and m and init_spec is not None and _set_global(module, m.group(1), init_spec):
                seen.discard(key)
                queue.appendleft(_Attempt(attempt.inputs, attempt.rules + ["fix:missing-global"], attempt.depth + 1,
                                          attempt.root))
                continue
            if not is_input_error(exc):
                deep_error = deep_error or exc
            if attempt.depth < MAX_FIX_DEPTH:
                fixes = [_Attempt(new, attempt.rules + [rule], attempt.depth + 1, attempt.root)
                         for rule, new in propose(exc, attempt.inputs, module)]
            else:
                fixes = []
            if attempt.primary is not None and is_input_error(exc):
                # the other inputs' alternatives were queued with the best primary only: with this
                # primary (a sequence where the best was a vector) the mask may be what needs to change;
                # tried after this attempt's own fixes, before the next first attempt
                fixes += _alternatives_with(slots, cands, attempt.primary, attempt.root)
            if per_root[attempt.root] < FIX_TRIES_PER_ROOT:
                queue.extendleft(reversed(fixes))
            else:
                queue.extend(fixes)
            continue
        problem = _output_problem(out)
        if problem is None:
            return attempt.inputs, attempt.rules, tries, None
        if soft is None:
            soft = (attempt.inputs, attempt.rules + [f"soft:{problem.split()[0]}"])
        soft_left -= 1
        if soft_left <= 0:
            break
    if soft is not None:
        return soft[0], soft[1], tries, None
    return {}, [], tries, deep_error or last


def enrich_optional(module: nn.Module, inputs: dict[str, Any], seed: int, deadline: float) -> tuple[dict[str, Any], list[str], int]:
    """Add optional masks and lengths (default None) when forward takes them and still runs: real use passes them."""
    try:
        sig = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return inputs, [], 0
    primary = inputs["args"][0] if inputs.get("args") else None
    if not primary or primary.get("kind") != "tensor" or len(primary["shape"]) < 2:
        return inputs, [], 0
    tries = 0
    rules: list[str] = []
    for p in sig.parameters.values():
        if p.default is not None or p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        if not (MASK_NAMES.search(p.name) or LENGTH_NAMES.search(p.name)) or _clock() > deadline:
            continue
        ctx = context_for(module, {})
        ctx.primary = primary
        for rule, spec in name_candidates(Slot(p.name, True), ctx, 1)[:2]:
            if spec.get("kind") == "const":
                continue
            trial = copy.deepcopy(inputs)
            trial["kwargs"][p.name] = spec
            tries += 1
            try:
                out = run_forward(module, trial, seed)
            except Exception:  # noqa: BLE001 - optional: keep the inputs without it
                continue
            if _output_problem(out) is None:
                inputs = trial
                rules.append(f"enrich:{rule.split(':', 1)[1]}")
                break
    return inputs, rules, tries


def deduce(cls: type, *, seed: int = 0, mode: str = "eval", budget_s: float = 60.0,
           max_tries: int = 40) -> Deduced:
    """Build a case for `cls`: constructed module plus a replayable spec.

    When no inputs fit a module built with small sizes (3 input channels, a
    width an odd split cannot halve), it is rebuilt once with all sizes 32 and
    searched again, budget permitting.
    """
    deadline = _clock() + budget_s
    tries = 0
    failure: DeduceFailed | None = None
    variants: list[Any] = [None, (32, (0, 1))]
    while variants:
        prescale = variants.pop(0)
        left = max_tries - tries
        if left <= 2 or _clock() > deadline:
            break
        try:
            module, init_spec, found_by, n = deduce_init(cls, seed, deadline, left, prescale)
        except DeduceFailed as exc:
            exc.tries += tries
            raise failure or exc
        tries += n
        try:
            module.train(mode == "train")
        except Exception as exc:  # noqa: BLE001 - an __init__ that skipped nn.Module.__init__ (no _modules)
            raise DeduceFailed("init", exc, tries, list(found_by)) from None
        # a class whose padding defaults to 0 keeps tries for a rebuild with same padding
        reserve = SAME_PADDING_TRIES if prescale is None and _zero_padding(cls) else 0
        inputs, rules, more, error = deduce_inputs(module, seed, deadline, max_tries - tries - reserve, init_spec)
        tries += more
        if error is None and rules:
            inputs, extra, more = enrich_optional(module, inputs, seed, deadline)
            tries += more
            spec = {"version": specs.SPEC_VERSION, "seed": seed, "mode": mode, "no_grad": True,
                    "init": init_spec, "inputs": inputs}
            return Deduced(module=module, spec=spec, found_by=found_by + _dedupe(rules + extra), tries=tries)
        stage = "inputs" if error is None or is_input_error(error) else "eager"
        if failure is None:
            failure = DeduceFailed(stage, error, tries, found_by)
            clash = _size_clash(error)
            if clash:
                variants.insert(0, clash)
            elif SIZE_MISMATCH.search(str(error or "")) and _zero_padding(cls):
                variants.insert(0, SAME_PADDING)
        failure.tries = tries
        if stage != "inputs" or not (_has_sizes(init_spec) or SAME_PADDING in variants):
            break
    assert failure is not None
    raise failure


def _has_sizes(init_spec: dict[str, Any]) -> bool:
    """Whether the constructor got any size-like ints a rebuild could change."""
    def walk(spec: dict[str, Any]) -> bool:
        if spec["kind"] == "const":
            return type(spec["value"]) is int and spec["value"] not in (0, 1, 32)
        if spec["kind"] in ("list", "tuple"):
            return any(walk(s) for s in spec["items"])
        if spec["kind"] == "config":
            return any(walk(s) for s in spec["attrs"].values())
        return False
    return any(walk(s) for s in [*init_spec.get("args", []), *init_spec.get("kwargs", {}).values()])
