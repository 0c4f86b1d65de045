"""Plausible constructor values: from what the source does with an argument, then its name.

Why: a constructor argument's name is a hint (`num_classes` -> 10), but what the
body does with it is better evidence (`nn.Embedding(n, ...)` -> a vocabulary
size, `range(n)` -> a small int, `cfg.model.dim` -> a nested config, `block(a,
b)` -> a class, `if norm == "batch"` -> the string "batch"). Values are value
specs (capture/deduce/specs.py), so whatever is chosen replays exactly.
"""
from __future__ import annotations

import inspect
import re
import sys
from typing import Any

import torch
from torch import nn

from capture.deduce import specs
from capture.deduce.static import Use
from capture.deduce.specs import const

BATCH = 2

CONFIG_NAMES = re.compile(
    r"^(config|cfg|conf|configs|args|opt|opts|options|hparams|hp|params|hyper_?params|settings|arg|"
    r"model_?cfg|model_?config|model_?args|model_?opt|net_?cfg|cfgs|flags|kwargs_cfg|conf_model)$", re.I)
NESTED_CONFIG_NAMES = re.compile(
    r"^(model|network|net|encoder|decoder|backbone|head|neck|data|dataset|train|training|test|optim|"
    r"optimizer|loss|vision|text|audio|transformer|arch|vit|unet|generator|discriminator|cfg|config|"
    r"model_?cfg|model_?config|MODEL|DATA|TRAIN|TEST)$")


def guess_int(name: str) -> int | None:
    """A plausible integer for a parameter or config attribute named `name`."""
    n = name.lower()
    rules: list[tuple[str, int]] = [
        (r"^(n_?gpus?|num_?gpus?|gpu_?num|ngpus?|n_gpu_use)$", 1),
        (r"(^|_)(num_)?(classes|class_num|n_classes|num_class|nclass|ncls|num_labels|n_labels|out_classes|nclasses|n_class|label_num|num_outputs|n_outputs|output_classes)$", 10),
        (r"vocab|ntoken|n_token|num_tokens|num_embeddings|n_vocab|tokens$|num_words|n_words|word_num|n_src_vocab|n_trg_vocab|n_tgt_vocab|num_chars|n_chars|num_symbols|n_symbols|dict_size", 100),
        (r"(^|_)(in_?ch(annels)?|input_?channels|in_?planes|inplanes|c_in|in_c|input_nc|nc|img_channels|image_channels|channels_in|num_channels|n_channels|in_chans|input_dim_img|in_chan|input_ch|n_colors|colors|channels_img|img_ch|image_ch)$", 3),
        (r"(heads|nhead|n_head|num_heads|head_num|num_attention_heads|n_heads|nheads|attn_heads)$", 4),
        (r"(layers|depth|n_layer|num_layers|nlayers|n_layers|num_blocks|n_blocks|blocks|num_hidden_layers|n_blocks)$", 2),
        (r"kernel", 3),
        (r"growth", 8),  # DenseNet's growth_rate: channels added per layer, not a rate
        (r"(^|_)(stride|dilation|groups|repeat|repeats)$", 1),
        (r"(^|_)(scale_factor|upscale|upscale_factor|scale|up_scale|upsample|factor|downsample|down)$", 2),
        (r"(^|_)(padding|pad)$", 1),
        (r"^patch_?(size|sz|len|h|w)$|^(patch|p|ps|patch_dim)$", 8),
        (r"(img|image|input)_?(size|res|resolution|h|w|height|width|shape)$|^(h|w|height|width|resolution|size|img_size|image_size|crop_size)$", 32),
        (r"patch", 4),
        (r"(seq|max_len|max_length|max_seq|block_size|context|n_ctx|n_positions|max_position|window|length|len|n_position|num_patches|max_seq_len|seq_len|max_seq_length|time_steps|timesteps)", 16),
        (r"batch", BATCH),
        (r"(latent|z_dim|nz|noise|code_dim|zdim)", 16),
        (r"(state|obs|observation|input_shape|num_inputs|n_states|n_obs)", 8),
        (r"(action|n_actions|num_actions|act_dim)", 4),
        (r"(out_?ch|out_?planes|planes|outplanes|ngf|ndf|nf|filters|width|base|c_out|out_c|output_nc)", 16),
        (r"(dim|size|hidden|d_model|emb|embd|features|feat|units|nhid|ninp|channels|n_in|n_out|in_|out_|ch$|d_|chans|nin|nout|inp|oup)", 32),
        (r"^(n|k|m|num|count)$|^n_|^num_", 2),
    ]
    for pattern, value in rules:
        if re.search(pattern, n):
            return value
    return None


def _ann_name(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ""
    if isinstance(annotation, str):
        return annotation.lower()
    return (getattr(annotation, "__name__", None) or str(annotation)).lower()


def _module_annotation(annotation: Any) -> bool:
    """An annotation naming nn.Module or one of its subclasses (`torch.nn.Module`, "nn.Module")."""
    if isinstance(annotation, type):
        return issubclass(annotation, nn.Module)
    return isinstance(annotation, str) and annotation.split(".")[-1] == "Module"


NO_GPUS = re.compile(r"gpu_?ids|device_?ids|gpus|gpu_?list|gpu_?devices")
NO_GPU_LIST: dict[str, Any] = {"kind": "list", "items": []}


def guess_value(name: str, annotation: Any = inspect.Parameter.empty) -> dict[str, Any]:
    """A value spec for a required parameter, from its annotation and name alone."""
    n = name.lower()
    ann = _ann_name(annotation)
    if re.fullmatch(r"device|dev|[a-z_]*_device", n) or ann in ("torch.device", "device"):
        return const("cpu")  # the case runs on the cpu; an int here would mean cuda:N
    if NO_GPUS.fullmatch(n):
        return dict(NO_GPU_LIST)  # `if self.gpu_ids: data_parallel(...)`: the case runs on no GPU
    if CONFIG_NAMES.match(n) or NESTED_CONFIG_NAMES.match(name) or "config" in ann or "cfg" in ann or "namespace" in ann \
            or ann in ("dict", "mapping") or ann.startswith(("dict[", "mapping[")):
        return {"kind": "config", "attrs": {}}
    if ann in ("bool",) or n.startswith(("use_", "is_", "has_", "with_", "enable", "do_", "apply_")) or n in (
            "bias", "affine", "residual", "bidirectional", "batch_first", "training", "pretrained", "concat", "causal"):
        return const(False if n in ("pretrained", "training") else True)
    if _module_annotation(annotation) or (re.search(r"(^|_)(module|layer)$", n) and not re.search(
            r"(^|_)(num|n|number|count)_", n) and ann in ("", "callable")):
        return {"kind": "module", "name": "Identity"}  # `wrapped_module: nn.Module`: stored and called, a layer
    if "growth" in n:
        return const(guess_int(n) or 8)
    if ann in ("float",) or re.search(
            r"drop|rate$|(^|_)(eps|epsilon|alpha|beta|gamma|momentum|temperature|temp|prob|p|ratio|lr|margin|"
            r"weight|tau|sigma|std|mean|lambda|lamb|coef|coeff|max_action|noise_std|init_std|threshold|thresh)($|_)", n):
        if re.search(r"drop|prob|rate|(^|_)p$", n):
            return const(0.0)
        if "eps" in n:
            return const(1e-5)
        if "ratio" in n:
            return const(4.0)
        return const(1.0)
    if re.fullmatch(r"fn|func|function|module|layer|sublayer|sub_layer|body|inner|wrapped|submodule|"
                    r"transformer_block|residual_fn|fn_module", n) and ann in ("", "nn.module", "module", "callable"):
        return {"kind": "module", "name": "Identity"}  # stored and called in forward: a layer
    if ann in ("str",) or (re.search(r"(^|_)(act|activation|act_layer|norm|norm_layer|mode|type|name|method|pool|"
                                      r"init|path|file|dir|fn|func|kind|padding_mode|reduction|nonlinearity)($|_)", n)
                           and not re.search(r"_(features|channels|planes|size|dim|num|count|classes|ch)$", n)):
        if re.search(r"path|file|dir", n):
            return const("")
        if re.search(r"act|nonlinearity", n):
            return const("relu")
        if re.search(r"norm", n):
            return const("batch")
        if n == "reduction":
            return const("mean")
        if n == "padding_mode":
            return const("zeros")
        return const(None)
    if ann == "int":  # an explicit int annotation wins over a plural name (`dims: int`)
        return const(guess_int(n) or guess_int(re.sub(r"(s|_list)$", "", n)) or 16)
    if "tuple" in ann or "list" in ann or "sequence" in ann or re.search(
            r"(sizes|dims|_list|widths|channels_list|features_list|strides|kernels|layers_cfg|channel_mult|"
            r"ch_mult|mults|depths|num_heads_list|hidden_dims|hidden_sizes|filters|blocks_per_stage)$", n):
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


# -- evidence from the source ---------------------------------------------------

_ROLE_VALUES = {"kernel_size": 3, "stride": 1, "padding": 1, "num_heads": 4, "nhead": 4, "num_layers": 1,
                "groups": 1, "dilation": 1, "num_groups": 1, "scale_factor": 2, "upscale_factor": 2}
_FLOAT_ROLES = {"p": 0.0, "dropout": 0.0}
_BOOL_ROLES = {"bias": True, "batch_first": True, "bidirectional": False}
_NUMERIC_ROLES = {"in_channels", "out_channels", "in_features", "out_features", "num_embeddings", "embedding_dim",
                  "input_size", "hidden_size", "num_features", "normalized_shape", "num_channels", "embed_dim",
                  "d_model", "dim_feedforward", "padding_idx", "size"}


# A token -> id mapping by its name (`word2ix`, `char2idx`, `stoi`): NLP constructors size their embedding
# with len() and look special tokens up, so a vocabulary with the usual special tokens, then letters.
VOCAB_MAP = re.compile(r"\w*2(ix|idx|id|index|i)|stoi|(word|token|char|vocab)_?(dict|map|index)", re.I)
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<pad>", "<unk>", "<s>", "</s>", "<sos>", "<eos>")


def vocabulary() -> dict[str, Any]:
    tokens = list(SPECIAL_TOKENS) + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    return {"kind": "dict", "items": {t: const(i) for i, t in enumerate(tokens)}}


def value_from_use(name: str, use: Use, annotation: Any = inspect.Parameter.empty) -> tuple[dict[str, Any], str]:
    """(value spec, rule name) for an argument, preferring what the source does with it."""
    ann = _ann_name(annotation)
    roles = {r for _, r in use.roles}
    if VOCAB_MAP.fullmatch(name) and not roles and not use.is_int:
        return vocabulary(), "init:vocab-dict"
    if "device" in roles or guess_value(name, annotation) == const("cpu"):
        return const("cpu"), "init:device"
    if NO_GPUS.fullmatch(name.lower()):
        return dict(NO_GPU_LIST), "init:no-gpus"
    if ann in ("bool", "float") or (ann == "int" and not use.iterated):
        return guess_value(name, annotation), "init:annotation"
    if use.str_choices and not roles:
        return const(use.str_choices[0]), "init:str-compare"
    named = guess_int(name)
    if roles:
        if roles & set(_BOOL_ROLES) and not roles & _NUMERIC_ROLES:
            return const(_BOOL_ROLES[next(iter(roles & set(_BOOL_ROLES)))]), "init:role"
        if roles & set(_FLOAT_ROLES):
            return const(0.0), "init:role"
        if roles == {"in_channels"} and named in (None, 3, 32):
            return const(3), "init:role-in-channels"
        if "num_embeddings" in roles and named != 10:
            return const(100), "init:role-vocab"
        if roles == {"data"}:
            # torch.tensor(x) takes data; torch.Tensor(x) takes data or a size: data when the name says a
            # float (rgb_mean, std), which no size can be. Data: one value per colour channel.
            calls = {c for c, r in use.roles if r == "data"}
            guessed = guess_value(name, annotation)
            if calls & {"tensor", "as_tensor"} or (guessed["kind"] == "const" and isinstance(guessed["value"], float)):
                return {"kind": "list", "items": [const(0.5)] * 3}, "init:role-data"
            return const(named if named is not None and named > 1 else 16), "init:role"
        fixed = roles & set(_ROLE_VALUES)
        if fixed and not roles & _NUMERIC_ROLES:
            return const(_ROLE_VALUES[sorted(fixed)[0]]), "init:role"
        return const(named if named is not None and named > 1 else 32), "init:role"
    if use.called:
        return {"kind": "class", "module": "torch.nn", "name": "Identity"}, "init:callable"
    if use.attrs or any(isinstance(k, str) for k in use.keys):
        return {"kind": "config", "attrs": {}}, "init:config"
    int_keys = [k for k in use.keys if isinstance(k, int)]
    if use.iterated or int_keys or use.unpack:
        length = max([abs(k) + (1 if k >= 0 else 0) for k in int_keys] + [use.unpack or 0, 2])
        item = guess_int(re.sub(r"(s|_list)$", "", name.lower()))
        return {"kind": "list", "items": [const(item if item is not None else 16)] * length}, "init:list"
    if use.is_int:
        return const(named if named is not None else 2), "init:int-use"
    return guess_value(name, annotation), "init:names"


# -- classes passed as arguments ----------------------------------------------------

def class_spec(obj: type) -> dict[str, Any]:
    module = "torch.nn" if getattr(torch.nn, obj.__name__, None) is obj else obj.__module__
    return {"kind": "class", "module": module, "name": obj.__qualname__ if module != "torch.nn" else obj.__name__}


def callable_candidates(owner: type, name: str, nargs: int) -> list[dict[str, Any]]:
    """Classes to try for a constructor argument that the body calls: `block(a, b)`.

    Sibling nn.Module classes of the same file first (a `block` argument is
    usually the file's BasicBlock), by how well the name and the number of
    arguments fit; then torch.nn classes the name suggests; nn.Identity last
    (it takes any arguments).
    """
    n = name.lower()
    from capture.deduce.repo_args import factory_functions
    out: list[dict[str, Any]] = factory_functions(name, nargs)  # the repo's own `default_conv` first
    if re.search(r"norm", n):
        out += [class_spec(nn.BatchNorm2d), class_spec(nn.LayerNorm), class_spec(nn.BatchNorm1d)]
    elif re.search(r"act|nonlin", n):
        out += [class_spec(nn.ReLU), class_spec(nn.GELU)]
    elif re.search(r"conv", n):
        out += [class_spec(nn.Conv2d)]
    elif re.search(r"pool", n):
        out += [class_spec(nn.MaxPool2d)]
    module = sys.modules.get(owner.__module__)
    siblings: list[tuple[int, str, type]] = []
    for attr, obj in vars(module).items() if module else []:
        if not (isinstance(obj, type) and issubclass(obj, nn.Module)) or obj is owner:
            continue
        if obj.__module__ != owner.__module__:
            continue
        try:
            params = [p for p in inspect.signature(obj.__init__).parameters.values()][1:]
        except (TypeError, ValueError):
            continue
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        required = [p for p in positional if p.default is p.empty]
        varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
        if not (len(required) <= nargs <= len(positional) or varargs):
            continue
        score = 0
        lname = obj.__name__.lower()
        stem = re.sub(r"(_?(layer|type|cls|class|fn|module))$", "", n)
        if stem and stem in lname:
            score -= 4
        if re.search(r"block|bottleneck|basic|layer|unit|cell", lname):
            score -= 2
        if "bottleneck" in lname:
            score += 1  # BasicBlock first: cheaper, and the usual default
        siblings.append((score, obj.__name__, obj))
    for _, _, obj in sorted(siblings, key=lambda t: (t[0], t[1])):
        out.append(class_spec(obj))
    out.append(class_spec(nn.Identity))
    seen: set[str] = set()
    uniq = []
    for s in out:
        key = f"{s['kind']}:{s['module']}.{s['name']}"
        if key not in seen:
            seen.add(key)
            uniq.append(s)
    return uniq[:8]


# -- config objects -------------------------------------------------------------------

class ConfigProxy:
    """Stands in for a config object, answering reads with plausible values.

    Attribute and item access both work (cfg.x, cfg["x"], cfg.get("x")), nested
    configs too (cfg.model.dim): a name the source reads further down, or one
    named like a section ("model", "encoder", ...), becomes a nested proxy.
    Values come from how the source uses each path (`uses`, read statically),
    else from the name. Reads are recorded, so the case stores exactly the
    attributes used and a replay builds a plain specs.ConfigBag with them.
    """

    def __init__(self, fixed: dict[str, Any] | None = None, uses: dict[str, Use] | None = None) -> None:
        object.__setattr__(self, "_read", {})
        object.__setattr__(self, "_fixed", dict(fixed or {}))
        object.__setattr__(self, "_uses", dict(uses or {}))

    def _value(self, name: str) -> Any:
        read = object.__getattribute__(self, "_read")
        if name not in read:
            fixed = object.__getattribute__(self, "_fixed")
            uses: dict[str, Use] = object.__getattribute__(self, "_uses")
            sub = {k[len(name) + 1:]: u for k, u in uses.items() if k.startswith(name + ".")}
            if name in fixed:
                read[name] = fixed[name]
            elif sub:
                read[name] = ConfigProxy(uses=sub)
            else:
                use = uses.get(name)
                guess = value_from_use(name, use)[0] if use is not None else guess_value(name)
                if guess["kind"] == "config":
                    read[name] = ConfigProxy()
                elif guess["kind"] == "class":
                    read[name] = nn.Identity
                else:
                    read[name] = specs.materialize(guess, torch.Generator())
        return read[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._value(name)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__getattribute__(self, "_read")[name] = value

    def __getitem__(self, name: Any) -> Any:
        return self._value(str(name))

    def __setitem__(self, name: Any, value: Any) -> None:
        object.__getattribute__(self, "_read")[str(name)] = value

    def get(self, name: str, default: Any = None) -> Any:
        read = object.__getattribute__(self, "_read")
        if default is None or name in read or name in object.__getattribute__(self, "_fixed"):
            return self._value(name)
        return read.setdefault(name, default)

    def __contains__(self, name: object) -> bool:
        return True

    def keys(self):
        return object.__getattribute__(self, "_read").keys()

    def items(self):
        return object.__getattribute__(self, "_read").items()

    def to_spec(self) -> dict[str, Any]:
        attrs = {}
        for k, v in object.__getattribute__(self, "_read").items():
            try:
                attrs[k] = value_to_spec(v)
            except TypeError:
                continue  # something the module stored on its config: not an input
        return {"kind": "config", "attrs": attrs}


def value_to_spec(value: Any) -> dict[str, Any]:
    """The spec of a plain value (what a config proxy answered, or stored)."""
    if isinstance(value, ConfigProxy):
        return value.to_spec()
    if isinstance(value, specs.ConfigBag):
        return {"kind": "config", "attrs": {k: value_to_spec(v) for k, v in vars(value).items()}}
    if isinstance(value, (list, tuple)):
        return {"kind": "list" if isinstance(value, list) else "tuple", "items": [value_to_spec(v) for v in value]}
    if isinstance(value, dict):
        return {"kind": "dict", "items": {str(k): value_to_spec(v) for k, v in value.items()}}
    if isinstance(value, nn.Module) and getattr(nn, type(value).__name__, None) is type(value):
        return {"kind": "module", "name": type(value).__name__}
    if isinstance(value, type) and getattr(value, "__module__", "").startswith("torch.nn"):
        return class_spec(value)
    if isinstance(value, torch.dtype):
        return {"kind": "dtype", "name": str(value).replace("torch.", "")}
    if value is None or isinstance(value, (bool, int, float, str)):
        return const(value)
    raise TypeError(f"cannot store a {type(value).__name__} in a case spec")
