"""Find constructor args and forward inputs that make a crawled module run.

Why not a pile of regexes over every torch error (paritybench's way): most
modules say what they want in their first layer (Conv2d(3, ...) wants 3
channels, Embedding(1000, ...) wants int64 ids below 1000). So: read the
signatures, guess by parameter name, build the module, read its first layer,
derive candidate inputs from it, then try them cheaply, letting the error
message pick the next candidate. Everything tried is a value spec (capture/
specs.py), so the winner is stored as data and replays exactly.
"""
from __future__ import annotations

import inspect
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from capture import specs
from capture.specs import const, tensor

BATCH = 2
SEQ = 8


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

CONFIG_NAMES = re.compile(r"^(config|cfg|conf|args|opt|opts|options|hparams|hp|params|hyper_?params|settings|arg|model_cfg|model_config)$", re.I)


def guess_int(name: str) -> int | None:
    """A plausible integer for a parameter or config attribute named `name`."""
    n = name.lower()
    rules: list[tuple[str, int]] = [
        (r"(^|_)(num_)?(classes|class_num|n_classes|num_class|nclass|ncls|num_labels|n_labels|out_classes)$", 10),
        (r"vocab|ntoken|n_token|num_tokens|num_embeddings|n_vocab|tokens$|num_words|n_words|word_num", 100),
        (r"(^|_)(in_?ch(annels)?|input_?channels|in_?planes|inplanes|c_in|in_c|input_nc|nc|img_channels|image_channels|channels_in|num_channels|n_channels|in_chans|in_dim_img)$", 3),
        (r"(heads|nhead|n_head|num_heads|head_num|num_attention_heads)$", 4),
        (r"(layers|depth|n_layer|num_layers|nlayers|n_layers|num_blocks|n_blocks|blocks)$", 2),
        (r"kernel", 3),
        (r"stride|dilation|groups|scale_factor|upscale|repeat", 1),
        (r"padding|pad$", 1),
        (r"(img|image|input|patch)_?(size|res|resolution|dim|h|w)$|^(h|w|height|width|resolution|size)$", 32),
        (r"patch", 4),
        (r"(seq|max_len|max_length|max_seq|block_size|context|n_ctx|n_positions|max_position|window|length|len)", 16),
        (r"batch", BATCH),
        (r"(out_?ch|out_?planes|planes|outplanes|ngf|ndf|nf|filters|width|base)", 16),
        (r"(dim|size|hidden|d_model|emb|embd|features|feat|units|nhid|ninp|channels|n_in|n_out|in_|out_|ch$|d_)", 32),
        (r"^(n|k|m|num|count)$|^n_|^num_", 2),
    ]
    for pattern, value in rules:
        if re.search(pattern, n):
            return value
    return None


def guess_value(name: str, annotation: Any = inspect.Parameter.empty) -> dict[str, Any]:
    """A value spec for a required parameter, from its annotation and name."""
    n = name.lower()
    ann = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    ann = (ann or "").lower()
    if CONFIG_NAMES.match(n) or "config" in ann or "cfg" in ann or "namespace" in ann:
        return {"kind": "config", "attrs": {}}
    if ann in ("bool",) or n.startswith(("use_", "is_", "has_", "with_", "enable")) or n in ("bias", "affine", "residual", "bidirectional", "batch_first", "training", "pretrained"):
        return const(False if n in ("pretrained", "training") else True)
    if ann == "float" or re.search(r"drop|rate$|(^|_)(eps|epsilon|alpha|beta|gamma|momentum|temperature|temp|prob|p|ratio|lr|margin|scale|weight|tau|sigma)($|_)", n):
        if re.search(r"drop|prob|rate", n):
            return const(0.0)
        if "eps" in n:
            return const(1e-5)
        return const(1.0 if "ratio" not in n else 4.0)
    if ann in ("str",) or re.search(r"(^|_)(act|activation|act_layer|norm|norm_layer|mode|type|name|method|pool|init|path|file|dir|fn|func)($|_)", n):
        if re.search(r"path|file|dir", n):
            return const("")
        if re.search(r"act", n):
            return const("relu")
        if re.search(r"norm", n):
            return const("batch")
        return const(None)
    if "tuple" in ann or "list" in ann or "sequence" in ann or re.search(r"(sizes|dims|_list|widths|_channels_list|features_list)$", n):
        base = guess_int(re.sub(r"(s|_list)$", "", n)) or 16
        return {"kind": "list", "items": [const(base), const(base)]}
    value = guess_int(n)
    if value is not None:
        return const(value)
    if ann in ("int",):
        return const(16)
    if "module" in ann:
        return {"kind": "module", "name": "Identity"}
    return const(16)


class ConfigProxy:
    """Stands in for a config object, answering reads with plausible values.

    Reads are recorded, so the case stores exactly the attributes used and a
    replay builds a plain attribute bag (specs.ConfigBag) with the same values.
    """

    def __init__(self, fixed: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_read", {})
        object.__setattr__(self, "_fixed", dict(fixed or {}))

    def _value(self, name: str) -> Any:
        read = object.__getattribute__(self, "_read")
        if name not in read:
            fixed = object.__getattribute__(self, "_fixed")
            if name in fixed:
                read[name] = fixed[name]
            else:
                guess = guess_value(name)
                read[name] = ConfigProxy() if guess["kind"] == "config" else specs.materialize(guess, torch.Generator())
        return read[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._value(name)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__getattribute__(self, "_read")[name] = value

    def __getitem__(self, name: str) -> Any:
        return self._value(str(name))

    def get(self, name: str, default: Any = None) -> Any:
        return self._value(name) if default is None else object.__getattribute__(self, "_read").setdefault(name, default)

    def __contains__(self, name: str) -> bool:
        return True

    def to_spec(self) -> dict[str, Any]:
        attrs = {}
        for k, v in object.__getattribute__(self, "_read").items():
            attrs[k] = v.to_spec() if isinstance(v, ConfigProxy) else value_to_spec(v)
        return {"kind": "config", "attrs": attrs}


def value_to_spec(value: Any) -> dict[str, Any]:
    if isinstance(value, ConfigProxy):
        return value.to_spec()
    if isinstance(value, (list, tuple)):
        return {"kind": "list" if isinstance(value, list) else "tuple", "items": [value_to_spec(v) for v in value]}
    if isinstance(value, dict):
        return {"kind": "dict", "items": {str(k): value_to_spec(v) for k, v in value.items()}}
    if isinstance(value, nn.Module):
        return {"kind": "module", "name": type(value).__name__}
    if value is None or isinstance(value, (bool, int, float, str)):
        return const(value)
    raise TypeError(f"cannot store a {type(value).__name__} in a case spec")


def _required_params(fn: Callable[..., Any]) -> tuple[list[inspect.Parameter], bool]:
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


def _build_init_value(spec: dict[str, Any]) -> Any:
    if spec["kind"] == "config":
        fixed = {k: specs.materialize(v, torch.Generator()) for k, v in spec["attrs"].items()}
        return ConfigProxy(fixed)
    return specs.materialize(spec, torch.Generator())


def construct(cls: type, init: dict[str, Any], seed: int) -> tuple[nn.Module, dict[str, Any]]:
    """Build the module; config proxies are turned into the specs of what was read."""
    args = [_build_init_value(s) for s in init.get("args", [])]
    kwargs = {k: _build_init_value(s) for k, s in init.get("kwargs", {}).items()}
    torch.manual_seed(seed)
    module = cls(*args, **kwargs)
    final = {
        "args": [value_to_spec(a) if isinstance(a, ConfigProxy) else s for a, s in zip(args, init.get("args", []))],
        "kwargs": {k: (value_to_spec(kwargs[k]) if isinstance(kwargs[k], ConfigProxy) else s)
                   for k, s in init.get("kwargs", {}).items()},
    }
    return module, final


MISSING_ARG = re.compile(r"missing (\d+ )?required (positional|keyword-only) arguments?: (.*)")
UNEXPECTED_ARG = re.compile(r"got an unexpected keyword argument '(\w+)'")


def deduce_init(cls: type, seed: int, deadline: float, max_tries: int) -> tuple[nn.Module, dict[str, Any], list[str], int]:
    required, _ = _required_params(cls.__init__)
    kwargs = {p.name: guess_value(p.name, p.annotation) for p in required}
    found_by = ["init:names" if required else "init:defaults"]
    tries = 0
    last: BaseException | None = None
    scale_variants = [None, 64, 8, 1]
    variant = 0
    while tries < max_tries and time.monotonic() < deadline:
        tries += 1
        init = {"args": [], "kwargs": kwargs}
        try:
            module, final = construct(cls, init, seed)
        except Exception as exc:  # noqa: BLE001 - crawled constructors raise anything
            last = exc
            msg = str(exc)
            m = MISSING_ARG.search(msg)
            if isinstance(exc, TypeError) and m:
                for name in re.findall(r"'(\w+)'", m.group(3)):
                    kwargs[name] = guess_value(name)
                found_by.append("init:missing-arg")
                continue
            m = UNEXPECTED_ARG.search(msg)
            if isinstance(exc, TypeError) and m and m.group(1) in kwargs:
                kwargs.pop(m.group(1))
                continue
            variant += 1
            if variant >= len(scale_variants):
                break
            scale = scale_variants[variant]
            kwargs = {k: (const(scale) if s["kind"] == "const" and type(s["value"]) is int and s["value"] not in (0, 1) else s)
                      for k, s in kwargs.items()}
            found_by = found_by[:1] + [f"init:ints={scale}"]
            continue
        if not isinstance(module, nn.Module):
            raise DeduceFailed("init", TypeError(f"{cls.__name__}() did not return an nn.Module"), tries, found_by)
        return module, final, found_by, tries
    raise DeduceFailed("init", last, tries, found_by)


# -- forward inputs -----------------------------------------------------------

def first_layer(module: nn.Module) -> nn.Module | None:
    """The first leaf layer that tells what the module's input looks like."""
    hints = (nn.Embedding, nn.EmbeddingBag, nn.modules.conv._ConvNd, nn.Linear, nn.RNNBase,
             nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.MultiheadAttention,
             nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.Transformer,
             nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)
    for sub in module.modules():
        if sub is not module and isinstance(sub, hints):
            return sub
    return None


def candidates_from_layer(layer: nn.Module | None) -> list[tuple[str, dict[str, Any]]]:
    """Ordered candidates for the primary input, each named by the rule that made it."""
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(layer, (nn.Embedding, nn.EmbeddingBag)):
        out.append(("layer:embedding", tensor([BATCH, SEQ], "int64", 0, layer.num_embeddings)))
    elif isinstance(layer, nn.modules.conv._ConvNd):
        c = layer.in_channels
        nd = len(layer.kernel_size)
        spatial = {1: [[64], [128], [256]], 2: [[32, 32], [64, 64], [224, 224], [28, 28], [128, 128]],
                   3: [[8, 16, 16], [16, 32, 32]]}[nd]
        for s in spatial:
            out.append((f"layer:conv{nd}d", tensor([BATCH, c, *s])))
    elif isinstance(layer, nn.Linear):
        f = layer.in_features
        out += [("layer:linear", tensor([BATCH, f])), ("layer:linear-seq", tensor([BATCH, SEQ, f]))]
    elif isinstance(layer, nn.RNNBase):
        f = layer.input_size
        shape = [BATCH, SEQ, f] if layer.batch_first else [SEQ, BATCH, f]
        out.append(("layer:rnn", tensor(shape)))
    elif isinstance(layer, nn.modules.batchnorm._BatchNorm):
        c = layer.num_features
        dims = {nn.BatchNorm1d: [[BATCH, c], [BATCH, c, 16]], nn.BatchNorm2d: [[BATCH, c, 32, 32]],
                nn.BatchNorm3d: [[BATCH, c, 8, 16, 16]]}.get(type(layer), [[BATCH, c, 32, 32]])
        out += [("layer:batchnorm", tensor(d)) for d in dims]
    elif isinstance(layer, (nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)):
        c = getattr(layer, "num_channels", None) or getattr(layer, "num_features", 3)
        out.append(("layer:norm", tensor([BATCH, c, 32, 32])))
    elif isinstance(layer, nn.LayerNorm):
        out.append(("layer:layernorm", tensor([BATCH, SEQ, *layer.normalized_shape])))
    elif isinstance(layer, nn.MultiheadAttention):
        e = layer.embed_dim
        shape = [BATCH, SEQ, e] if layer.batch_first else [SEQ, BATCH, e]
        out.append(("layer:attention", tensor(shape)))
    elif isinstance(layer, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.Transformer)):
        attn = layer.self_attn if hasattr(layer, "self_attn") else layer.encoder.layers[0].self_attn
        e = attn.embed_dim
        shape = [BATCH, SEQ, e] if attn.batch_first else [SEQ, BATCH, e]
        out.append(("layer:transformer", tensor(shape)))
    return out


GENERIC = [
    ("generic:image", tensor([BATCH, 3, 32, 32])),
    ("generic:vector", tensor([BATCH, 32])),
    ("generic:seq", tensor([BATCH, SEQ, 32])),
    ("generic:4x4", tensor([4, 4, 4, 4])),
    ("generic:image64", tensor([BATCH, 3, 64, 64])),
    ("generic:vector16", tensor([BATCH, 16])),
]

ID_NAMES = re.compile(r"(ids|tokens?|idx|indices|index|src|tgt|words?|text|sentence|labels?|targets?|captions?|query_ids)$", re.I)
MASK_NAMES = re.compile(r"mask", re.I)
LENGTH_NAMES = re.compile(r"(lengths?|lens|seq_len|seq_lens)$", re.I)


def _input_for_param(name: str, primary: dict[str, Any], layer: nn.Module | None) -> tuple[str, dict[str, Any]]:
    if MASK_NAMES.search(name):
        shape = primary["shape"][:2] if primary["kind"] == "tensor" else [BATCH, SEQ]
        return "name:mask", tensor(shape, "bool", 1, 2)
    if LENGTH_NAMES.search(name):
        seq = primary["shape"][1] if primary["kind"] == "tensor" and len(primary["shape"]) > 1 else SEQ
        return "name:lengths", tensor([BATCH], "int64", seq, seq + 1)
    if ID_NAMES.search(name):
        vocab = layer.num_embeddings if isinstance(layer, nn.Embedding) else 10
        return "name:ids", tensor([BATCH, SEQ], "int64", 0, vocab)
    return "same-as-first", dict(primary)


SHAPE_ERRORS = re.compile(
    r"shape|size|dimension|dim |channels|expected input|mat1|mat2|must match|"
    r"Expected \d|out of range|unpack|index|scalar type|dtype|Long|Int|Float|"
    r"positional argument|not enough values|too many values|got input|broadcast|view|reshape", re.I)


def is_input_error(exc: BaseException) -> bool:
    """Whether an error looks like a wrong input rather than a broken module."""
    if isinstance(exc, (TypeError, IndexError, ValueError)) and SHAPE_ERRORS.search(str(exc)):
        return True
    return isinstance(exc, RuntimeError) and bool(SHAPE_ERRORS.search(str(exc)))


def run_forward(module: nn.Module, inputs: dict[str, Any], seed: int) -> Any:
    args, kwargs = specs.materialize_call(inputs, specs.make_generator(seed))
    torch.manual_seed(seed)
    with torch.no_grad():
        return module(*args, **kwargs)


def _fix_from_error(exc: BaseException, primary: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """One targeted change of the primary input suggested by the error text."""
    msg = str(exc)
    if primary["kind"] != "tensor":
        return None
    m = re.search(r"expected input\[[^\]]*\] to have (\d+) channels", msg)
    if m:
        return "fix:channels", {**primary, "shape": [primary["shape"][0], int(m.group(1)), *primary["shape"][2:]]}
    if re.search(r"scalar type(s)?.*(Long|Int)|indices|Expected tensor for argument #1 'indices'|must be Long|LongTensor", msg) and primary["dtype"] == "float32":
        return "fix:int64", {**primary, "dtype": "int64", "low": 0, "high": 10, "shape": primary["shape"][:2]}
    if "index out of range" in msg and primary["dtype"] == "int64" and primary.get("high", 10) > 2:
        return "fix:smaller-ids", {**primary, "high": 2}
    m = re.search(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)", msg)
    if m and int(m.group(2)) == primary["shape"][-1]:
        return "fix:features", {**primary, "shape": [*primary["shape"][:-1], int(m.group(3))]}
    return None


def deduce_inputs(module: nn.Module, seed: int, deadline: float, max_tries: int) -> tuple[dict[str, Any], list[str], int, BaseException | None]:
    """Try candidates for forward's inputs; return the first that runs, or the last error."""
    required, varargs = _required_params(module.forward)
    layer = first_layer(module)
    primaries = candidates_from_layer(layer) + GENERIC
    if required and ID_NAMES.search(required[0].name) and not isinstance(layer, nn.Embedding):
        primaries.insert(0, ("name:ids", tensor([BATCH, SEQ], "int64", 0, 10)))
    if not required and not varargs:
        names: list[str] = []
    else:
        names = [p.name for p in required] or ["input"]
    tries = 0
    last: BaseException | None = None
    seen: set[str] = set()
    queue = list(primaries)
    while queue and tries < max_tries and time.monotonic() < deadline:
        rule, primary = queue.pop(0)
        key = repr(primary)
        if key in seen:
            continue
        seen.add(key)
        inputs: dict[str, Any] = {"args": [], "kwargs": {}}
        rules = [rule]
        for i, name in enumerate(names):
            if i == 0:
                inputs["args"].append(primary)
            else:
                r, s = _input_for_param(name, primary, layer)
                rules.append(r)
                inputs["args"].append(s)
        tries += 1
        try:
            run_forward(module, inputs, seed)
            return inputs, rules, tries, None
        except Exception as exc:  # noqa: BLE001
            last = exc
            if not is_input_error(exc):
                if tries >= 3:
                    break
                continue
            fix = _fix_from_error(exc, primary)
            if fix:
                queue.insert(0, (f"{rule}+{fix[0]}", fix[1]))
            if not names:
                break
    return {}, [], tries, last


def deduce(cls: type, *, seed: int = 0, mode: str = "eval", budget_s: float = 60.0,
           max_tries: int = 40) -> Deduced:
    """Build a case for `cls`: constructed module plus a replayable spec."""
    deadline = time.monotonic() + budget_s
    module, init_spec, found_by, tries = deduce_init(cls, seed, deadline, max_tries)
    module.train(mode == "train")
    inputs, rules, more, error = deduce_inputs(module, seed, deadline, max_tries)
    tries += more
    if error is not None:
        stage = "inputs" if is_input_error(error) else "eager"
        raise DeduceFailed(stage, error, tries, found_by)
    spec = {"version": specs.SPEC_VERSION, "seed": seed, "mode": mode, "no_grad": True,
            "init": init_spec, "inputs": inputs}
    return Deduced(module=module, spec=spec, found_by=found_by + rules, tries=tries)
