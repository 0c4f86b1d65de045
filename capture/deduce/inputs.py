"""Candidate forward inputs, one list per forward parameter, most plausible first.

Why: a module says what it wants in the layer that first touches each input
(`self.conv1(x)` with Conv2d(3, ...) wants [B, 3, H, W]; `self.emb(ids)` with
Embedding(1000, ...) wants int64 ids below 1000), in how forward unpacks it
(`b, n, d = x.shape`, `x["image"]`, `a, b = pair`), and in its name (`mask`,
`lengths`, `adj`, `edge_index`, `t`). Each candidate carries the name of the
rule that made it, so a case records how it was found.
"""
from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from capture.deduce.static import Reading, Use, read_class
from capture.deduce.specs import const, tensor

BATCH = 2
SEQ = 8
NODES = 6

Candidate = tuple[str, dict[str, Any]]

HINT_LAYERS = (nn.Embedding, nn.EmbeddingBag, nn.modules.conv._ConvNd, nn.Linear, nn.Bilinear, nn.RNNBase,
               nn.RNNCellBase, nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.MultiheadAttention,
               nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.Transformer,
               nn.TransformerEncoder, nn.TransformerDecoder, nn.GroupNorm,
               nn.modules.instancenorm._InstanceNorm)

ID_NAMES = re.compile(r"^(x_?)?(input_?ids|ids|tokens?|token_ids|idx|indices|src|tgt|trg|words?|text|sentences?|"
                      r"captions?|query_ids|src_seq|trg_seq|tgt_seq|dec_input|enc_input|src_tokens|tgt_tokens|"
                      r"input_seq|seq|sequence|inp_ids|word_ids|char_ids|chars|dec_inputs|enc_inputs|"
                      r"prev_output_tokens|src_ids|tgt_ids|x_ids|token)$", re.I)
MASK_NAMES = re.compile(r"mask", re.I)
LENGTH_NAMES = re.compile(r"(lengths?|lens|seq_len|seq_lens|src_len|src_lengths|input_lengths|text_lengths|"
                          r"seq_lengths|x_len|x_lens|ilens|mel_lengths|output_lengths|input_lens)$", re.I)
HIDDEN_NAMES = re.compile(r"^(hidden|hx|h0|h|hc|hidden_state|hiddens|prev_hidden|h_0|hid|state_h|init_hidden|"
                          r"rnn_state|hidden_cell|hidden_states_rnn|last_hidden|prev_state|memory_state)$", re.I)
ADJ_NAMES = re.compile(r"^(adj|adjacency|adj_matrix|a_hat|a|graph|laplacian|adj_mat|support|norm_adj|g)$", re.I)
EDGE_NAMES = re.compile(r"^(edge_index|edges|edge_idx|edge_list)$", re.I)
TIME_NAMES = re.compile(r"^(t|time|times|timestep|timesteps|step|steps|noise_level|noise_levels|sigma|sigmas|"
                        r"time_emb|t_emb|diffusion_step|diffusion_steps|ts)$", re.I)
LABEL_NAMES = re.compile(r"^(y|labels?|class_labels?|classes|cls|c|cond|condition|class_ids?|targets?|gt|"
                         r"label_ids|ys|target_ids|gt_labels|y_true|truth)$", re.I)
SEGMENT_NAMES = re.compile(r"^(segment_ids|token_type_ids|segment_label|segments|segment|token_types|type_ids|seg)$", re.I)
POSITION_NAMES = re.compile(r"^(position_ids|positions|pos|pos_ids|masked_pos|input_pos|src_pos|tgt_pos)$", re.I)
TARGET_NAMES = re.compile(r"^(targets?|gt|y_true|truth|ground_truth|label|labels|y|true|real|ref|reference)$", re.I)


@dataclass
class Slot:
    """One forward parameter to fill: positional arg or keyword-only."""

    name: str
    keyword: bool
    annotation: Any = inspect.Parameter.empty
    use: Use = field(default_factory=Use)
    layer: nn.Module | None = None
    layer_path: str | None = None
    checked: list[int] | None = None  # the shape forward's own check asks for (deduce_shapecheck.py)


def forward_slots(module: nn.Module) -> tuple[list[Slot], bool, Reading]:
    """The required forward params as slots (self dropped), whether *args is taken, the reading."""
    try:
        sig = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return [], False, Reading()
    reading = read_class(type(module), "forward")
    slots: list[Slot] = []
    varargs = False
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            varargs = True
        if p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        slots.append(Slot(p.name, p.kind == p.KEYWORD_ONLY, p.annotation, reading.use(p.name)))
    return slots, varargs, reading


# -- which layer an input meets first --------------------------------------------

def _walk_path(module: nn.Module, path: str) -> Any:
    obj: Any = module
    for part in path.split("."):
        if part.isdigit() and isinstance(obj, (nn.Sequential, nn.ModuleList)):
            idx = int(part)
            obj = obj[idx] if idx < len(obj) else None
        else:
            obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def resolve_layer(module: nn.Module, path: str | None, depth: int = 0) -> nn.Module | None:
    """The leaf layer behind `self.<path>`: through containers and custom modules' own forward."""
    if path is None or depth > 5:
        return None
    if path.endswith("#arg"):
        return None
    obj = _walk_path(module, path)
    return leaf_layer(obj, depth)


def leaf_layer(obj: Any, depth: int = 0) -> nn.Module | None:
    if not isinstance(obj, nn.Module) or depth > 5:
        return None
    if isinstance(obj, HINT_LAYERS):
        return obj
    if isinstance(obj, (nn.Sequential, nn.ModuleList)):
        for child in obj:
            found = leaf_layer(child, depth + 1)
            if found is not None:
                return found
            if isinstance(child, nn.Module) and any(True for _ in child.parameters()):
                return None  # a first child with weights we cannot read: stop guessing
        return None
    if isinstance(obj, nn.ModuleDict):
        return next((f for c in obj.values() if (f := leaf_layer(c, depth + 1)) is not None), None)
    if _feature_attr(obj) is not None:
        return obj
    reading = read_class(type(obj), "forward")
    if reading.ok and reading.params:
        found = resolve_layer(obj, reading.use(reading.params[0]).first_layer, depth + 1)
        if found is not None:
            return found
    return first_layer(obj)


def first_layer(module: nn.Module) -> nn.Module | None:
    """The first leaf layer in registration order: the fallback when forward cannot be read."""
    for sub in module.modules():
        if sub is not module and isinstance(sub, HINT_LAYERS):
            return sub
    return None


def _feature_attr(obj: nn.Module) -> tuple[str, int] | None:
    """Custom layers that say their input width: self.in_features / in_channels / in_dim."""
    if isinstance(obj, HINT_LAYERS):
        return None
    for attr in ("in_features", "in_channels", "in_dim", "input_dim", "in_size", "input_size", "in_feats", "in_ch"):
        value = getattr(obj, attr, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return attr, value
    return None


# -- candidates from a layer ------------------------------------------------------

SPATIAL = {1: [[32], [64], [256], [16]], 2: [[32, 32], [64, 64], [28, 28], [224, 224], [128, 128], [16, 16]],
           3: [[8, 16, 16], [16, 32, 32], [16, 64, 64]]}


def candidates_from_layer(layer: nn.Module | None, before: list[str] | None = None) -> list[Candidate]:
    """Ordered candidates for an input that meets `layer` first."""
    out: list[Candidate] = []
    if layer is None:
        return out
    if isinstance(layer, (nn.Embedding, nn.EmbeddingBag)):
        high = layer.num_embeddings
        out += [("layer:embedding", tensor([BATCH, SEQ], "int64", 0, high)),
                ("layer:embedding-1d", tensor([BATCH], "int64", 0, high))]
    elif isinstance(layer, nn.modules.conv._ConvNd):
        c = layer.in_channels
        nd = len(layer.kernel_size)
        if nd not in SPATIAL:  # a kernel_size that is a stub (`to_2tuple` from a stubbed timm): no size to offer
            return out
        kind = "convT" if isinstance(layer, nn.modules.conv._ConvTransposeNd) else "conv"
        spatial = list(SPATIAL[nd])
        k, s = layer.kernel_size[0], layer.stride[0]
        if kind == "convT":
            spatial = [[1] * nd, [4] * nd, [8] * nd] + spatial
        elif s > 1 and k == s and k > 2:  # patch embedding: sizes a multiple of the patch
            spatial = [[k * 4] * nd, [k * 2] * nd, [224] * nd if nd == 2 else [k * 8] * nd] + spatial
        elif k > 16:
            spatial = [[max(k * 4, 64)] * nd] + spatial
        for sp in spatial:
            out.append((f"layer:{kind}{nd}d", tensor([BATCH, c, *sp])))
    elif isinstance(layer, nn.Linear):
        f = layer.in_features
        out += [("layer:linear", tensor([BATCH, f])), ("layer:linear-seq", tensor([BATCH, SEQ, f]))]
        for c in (1, 3):
            side = math.isqrt(f // c) if f % c == 0 else 0
            if side >= 4 and c * side * side == f:
                out.append(("layer:linear-image", tensor([BATCH, c, side, side])))
                break
    elif isinstance(layer, nn.Bilinear):
        out.append(("layer:bilinear", tensor([BATCH, layer.in1_features])))
    elif isinstance(layer, nn.RNNBase):
        f = layer.input_size
        bf = [BATCH, SEQ, f]
        sf = [SEQ, BATCH, f]
        first, second = (bf, sf) if layer.batch_first else (sf, bf)
        out += [("layer:rnn", tensor(first)), ("layer:rnn-other-order", tensor(second))]
    elif isinstance(layer, nn.RNNCellBase):
        out.append(("layer:rnn-cell", tensor([BATCH, layer.input_size])))
    elif isinstance(layer, nn.modules.batchnorm._BatchNorm):
        c = layer.num_features
        dims = {nn.BatchNorm1d: [[BATCH, c], [BATCH, c, 16]], nn.BatchNorm2d: [[BATCH, c, 32, 32]],
                nn.BatchNorm3d: [[BATCH, c, 8, 16, 16]]}.get(type(layer), [[BATCH, c, 32, 32], [BATCH, c]])
        out += [("layer:batchnorm", tensor(d)) for d in dims]
    elif isinstance(layer, (nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)):
        c = getattr(layer, "num_channels", None) or getattr(layer, "num_features", 3)
        rank = 3 if isinstance(layer, nn.InstanceNorm1d) else 5 if isinstance(layer, nn.InstanceNorm3d) else 4
        out.append(("layer:norm", tensor([BATCH, c, *([16] * (rank - 2))])))
    elif isinstance(layer, nn.LayerNorm):
        ns = list(layer.normalized_shape)
        out += [("layer:layernorm", tensor([BATCH, SEQ, *ns])), ("layer:layernorm-2d", tensor([BATCH, *ns]))]
    elif isinstance(layer, nn.MultiheadAttention):
        e = layer.embed_dim
        bf, sf = [BATCH, SEQ, e], [SEQ, BATCH, e]
        first, second = (bf, sf) if layer.batch_first else (sf, bf)
        out += [("layer:attention", tensor(first)), ("layer:attention-other-order", tensor(second))]
    elif isinstance(layer, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer, nn.Transformer,
                            nn.TransformerEncoder, nn.TransformerDecoder)):
        attn = _first_attention(layer)
        if attn is not None:
            e = attn.embed_dim
            bf, sf = [BATCH, SEQ, e], [SEQ, BATCH, e]
            first, second = (bf, sf) if attn.batch_first else (sf, bf)
            out += [("layer:transformer", tensor(first)), ("layer:transformer-other-order", tensor(second))]
    else:
        feat = _feature_attr(layer)
        if feat is not None:
            attr, n = feat
            if "channel" in attr or attr == "in_ch":
                out += [("layer:custom-channels", tensor([BATCH, n, 32, 32])), ("layer:custom-channels-1d", tensor([BATCH, n, 32]))]
            out += [("layer:custom-features", tensor([BATCH, n])), ("layer:custom-features-seq", tensor([BATCH, SEQ, n]))]
    return _apply_before(out, before or [])


def _first_attention(layer: nn.Module) -> nn.MultiheadAttention | None:
    for sub in layer.modules():
        if isinstance(sub, nn.MultiheadAttention):
            return sub
    return None


def _apply_before(cands: list[Candidate], before: list[str]) -> list[Candidate]:
    """Undo what forward does to the input before the layer: x.transpose(1, 2) -> swap back."""
    if not before:
        return cands
    out: list[Candidate] = []
    for rule, spec in cands:
        shape = list(spec["shape"])
        if any(m in ("transpose", "permute", "t") for m in before) and len(shape) >= 3:
            out.append((rule + "+transposed", {**spec, "shape": [shape[0], *shape[2:], shape[1]]}))
        if "unsqueeze" in before and len(shape) >= 3:
            out.append((rule + "+unsqueezed", {**spec, "shape": [shape[0], *shape[2:]]}))
        if "squeeze" in before:
            out.append((rule + "+squeezed", {**spec, "shape": [*shape, 1]}))
    return out + cands


GENERIC: list[Candidate] = [
    ("generic:image", tensor([BATCH, 3, 32, 32])),
    ("generic:seq", tensor([BATCH, SEQ, 32])),
    ("generic:vector", tensor([BATCH, 32])),
    ("generic:image64", tensor([BATCH, 3, 64, 64])),
    ("generic:4x4", tensor([4, 4, 4, 4])),
    ("generic:signal", tensor([BATCH, 1, 64])),
    ("generic:vector16", tensor([BATCH, 16])),
    ("generic:5d", tensor([BATCH, 3, 8, 16, 16])),
]


def rank_shape(rank: int, like: dict[str, Any] | None = None) -> list[int]:
    """A shape of `rank` that keeps `like`'s batch, channels or features where it can."""
    shape = like["shape"] if like and like.get("kind") == "tensor" else []
    feat = shape[-1] if len(shape) >= 2 else 32
    chan = shape[1] if len(shape) >= 3 else 3
    if rank <= 0:
        return []
    if rank == 1:
        return [BATCH]
    if rank == 2:
        return [BATCH, feat]
    if rank == 3:
        return [BATCH, SEQ, feat] if len(shape) != 4 else [BATCH, chan, 32]
    if rank == 4:
        return [BATCH, chan, 32, 32] if len(shape) != 3 else [BATCH, shape[1], shape[2], 4]
    return [BATCH, chan, *([8] * (rank - 2))]


# -- per-slot candidates ----------------------------------------------------------

@dataclass
class Context:
    """What candidates may depend on: the module, its init values, the first slot's value."""

    module: nn.Module
    init_values: dict[str, Any]
    primary: dict[str, Any] | None = None
    vocab: int | None = None
    rnn: nn.RNNBase | None = None


def context_for(module: nn.Module, init_spec: dict[str, Any]) -> Context:
    values: dict[str, Any] = {}
    for k, s in init_spec.get("kwargs", {}).items():
        if s.get("kind") == "const":
            values[k] = s["value"]
        elif s.get("kind") == "config":
            for ak, av in s.get("attrs", {}).items():
                if av.get("kind") == "const":
                    values.setdefault(ak, av["value"])
    emb = [m.num_embeddings for m in module.modules() if isinstance(m, nn.Embedding)]
    rnn = next((m for m in module.modules() if isinstance(m, nn.RNNBase)), None)
    return Context(module=module, init_values=values, vocab=emb[0] if emb else None, rnn=rnn)


def _seq_of(primary: dict[str, Any] | None) -> int:
    if primary and primary.get("kind") == "tensor" and len(primary["shape"]) >= 2:
        if primary["dtype"] == "int64" or len(primary["shape"]) == 3:
            return primary["shape"][1]
    return SEQ


def _init_dim(name: str, ctx: Context) -> int | None:
    """`state` -> init arg `state_dim` = 8: the width the constructor was given for this input."""
    stem = name.lower().rstrip("s")
    for key, value in ctx.init_values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            continue
        k = key.lower()
        if re.fullmatch(rf"(n_|num_)?{re.escape(stem)}s?(_dim|_size|_channels|_features|_shape|_space|dim|size)?", k) \
                and k != name.lower():
            return value
    return None


def _lengths_mask(batch: int, seq: int, dtype: str = "bool") -> dict[str, Any]:
    """A padding mask with both kept and padded positions in every row (no all-masked row)."""
    lengths = [max(1, seq - 1 - i * (seq // 2)) for i in range(batch)]
    data = [[(1 if j < n else 0) for j in range(seq)] for n in lengths]
    if dtype == "bool":
        data = [[bool(v) for v in row] for row in data]
    return {"kind": "literal", "dtype": dtype, "data": data}


def _causal(seq: int, dtype: str = "bool") -> dict[str, Any]:
    data = [[(1 if j <= i else 0) for j in range(seq)] for i in range(seq)]
    if dtype == "bool":
        data = [[bool(v) for v in row] for row in data]
    return {"kind": "literal", "dtype": dtype, "data": data}


def name_candidates(slot: Slot, ctx: Context, index: int) -> list[Candidate]:
    """Candidates that the parameter's name asks for (masks, lengths, graphs, time steps, ...)."""
    n = slot.name
    primary = ctx.primary if index > 0 else None
    pshape = primary["shape"] if primary and primary.get("kind") == "tensor" else None
    out: list[Candidate] = []
    if MASK_NAMES.search(n):
        seq = _seq_of(primary)
        if pshape and len(pshape) == 4 and primary["dtype"] != "int64":  # image: a pixel mask
            out.append(("name:mask-image", tensor([pshape[0], *pshape[2:]], "bool", 0, 1)))
        mask = _lengths_mask(BATCH, seq)
        out += [("name:mask", mask),
                ("name:mask-float", _lengths_mask(BATCH, seq, "float32")),
                ("name:mask-causal", _causal(seq)),
                ("name:mask-3d", {"kind": "literal", "dtype": "bool",
                                  "data": [[row] * seq for row in mask["data"]]}),
                ("name:mask-4d", {"kind": "literal", "dtype": "bool",
                                  "data": [[[row]] for row in mask["data"]]}),
                ("name:mask-none", const(None))]
        return out
    if LENGTH_NAMES.search(n):
        seq = _seq_of(primary)
        lengths = [seq - i * (seq // 4) for i in range(BATCH)]
        return [("name:lengths", {"kind": "literal", "dtype": "int64", "data": lengths}),
                ("name:lengths-none", const(None))]
    if index > 0 and HIDDEN_NAMES.match(n):
        out.append(("name:hidden-none", const(None)))
        out += hidden_candidates(ctx)
        return out
    if index > 0 and EDGE_NAMES.match(n):
        nodes = pshape[0] if pshape else NODES
        return [("name:edge-index", tensor([2, nodes * 2], "int64", 0, nodes))]
    if index > 0 and ADJ_NAMES.match(n):
        nodes = pshape[0] if pshape and len(pshape) == 2 else NODES
        out = [("name:adjacency", tensor([nodes, nodes], "float32", 0, 1))]
        if pshape and len(pshape) == 3:
            out.insert(0, ("name:adjacency-batched", tensor([pshape[0], pshape[1], pshape[1]], "float32", 0, 1)))
        return out
    if index > 0 and TIME_NAMES.match(n):
        batch = pshape[0] if pshape else BATCH
        return [("name:timesteps", tensor([batch], "int64", 0, 10)),
                ("name:timesteps-float", tensor([batch], "float32", 0, 1))]
    if index > 0 and LABEL_NAMES.match(n):
        batch = pshape[0] if pshape else BATCH
        classes = pshape[1] if pshape and len(pshape) == 2 and primary["dtype"] != "int64" else 10
        if TARGET_NAMES.match(n) and primary is not None:
            out.append(("name:target-like-input", dict(primary)))
        if isinstance(slot.layer, (nn.Embedding, nn.EmbeddingBag)):
            classes = slot.layer.num_embeddings
        out.append(("name:labels", tensor([batch], "int64", 0, classes)))
        return out
    if index > 0 and SEGMENT_NAMES.match(n):
        return [("name:segment-ids", tensor([BATCH, _seq_of(primary)], "int64", 0, 2))]
    if index > 0 and POSITION_NAMES.match(n):
        seq = _seq_of(primary)
        return [("name:positions", tensor([BATCH, seq], "int64", 0, seq))]
    if ID_NAMES.match(n) and not isinstance(slot.layer, nn.modules.conv._ConvNd):
        vocab = slot.layer.num_embeddings if isinstance(slot.layer, nn.Embedding) else (ctx.vocab or 10)
        seq = _seq_of(primary) if index > 0 else SEQ
        out.append(("name:ids", tensor([BATCH, seq], "int64", 0, vocab)))
        return out
    return out


def hidden_candidates(ctx: Context) -> list[Candidate]:
    """An RNN state: what the module's own init_hidden makes, else zeros shaped for its RNN."""
    out: list[Candidate] = []
    rnn = ctx.rnn
    if rnn is not None:
        layers = rnn.num_layers * (2 if rnn.bidirectional else 1)
        h = {"kind": "tensor", "shape": [layers, BATCH, rnn.hidden_size], "dtype": "float32", "low": 0, "high": 0}
        if isinstance(rnn, nn.LSTM):
            out.append(("name:hidden-lstm", {"kind": "tuple", "items": [h, dict(h)]}))
        else:
            out.append(("name:hidden-rnn", h))
    return out


def structure_candidates(slot: Slot, ctx: Context, inner: list[Candidate]) -> list[Candidate]:
    """Dicts and tuples, when forward reads x["key"] or unpacks x."""
    use = slot.use
    str_keys = [k for k in use.keys if isinstance(k, str)]
    int_keys = [k for k in use.keys if isinstance(k, int)]
    base = inner[0][1] if inner else tensor([BATCH, 3, 32, 32])
    out: list[Candidate] = []
    if str_keys:
        items = {}
        for key in dict.fromkeys(str_keys):
            sub = Slot(key, False)
            cands = name_candidates(sub, ctx, 1) if not ID_NAMES.match(key) else name_candidates(sub, ctx, 0)
            items[key] = cands[0][1] if cands else dict(base)
        out.append(("static:dict-input", {"kind": "dict", "items": items}))
    n = use.unpack or (max(int_keys) + 1 if int_keys and min(int_keys) >= 0 else 0)
    if n >= 2 and n <= 6 and not use.rank and not use.first_layer:
        out.append(("static:tuple-input", {"kind": "tuple", "items": [dict(base) for _ in range(n)]}))
        out.append(("static:list-input", {"kind": "list", "items": [dict(base) for _ in range(n)]}))
    return out


def slot_candidates(slot: Slot, ctx: Context, index: int) -> list[Candidate]:
    """All candidates for one slot, best first, without duplicates."""
    layer_cands = candidates_from_layer(slot.layer, slot.use.before_layer)
    named = name_candidates(slot, ctx, index)
    out: list[Candidate] = []
    out += structure_candidates(slot, ctx, layer_cands or named or GENERIC)
    width = _init_dim(slot.name, ctx)
    if slot.use.via_cat and width:
        out.append(("name:init-dim", tensor([BATCH, width])))
    if named and (index > 0 or not layer_cands or named[0][0] in ("name:ids",)):
        out += named + layer_cands
    else:
        out += layer_cands + named
    if width and not slot.use.via_cat and (index > 0 or not layer_cands):
        out.append(("name:init-dim", tensor([BATCH, width])))
    if index > 0 and ctx.primary is not None:
        same = ("same-as-first", dict(ctx.primary))
        if not named and _fits_like(ctx.primary, layer_cands):
            out.insert(0, same)  # q, k, v into look-alike layers: follow the first input's shape
        else:
            out.append(same)
    out += GENERIC
    out = _order_by_rank(out, slot.use)
    if slot.checked:
        out.insert(0, ("static:shape-check", tensor(slot.checked)))
    seen: set[str] = set()
    uniq = []
    for rule, spec in out:
        key = repr(spec)
        if key not in seen:
            seen.add(key)
            uniq.append((rule, spec))
    return uniq


def _fits_like(primary: dict[str, Any], layer_cands: list[Candidate]) -> bool:
    """Whether the first input would also suit this slot's own layer (same dtype and width)."""
    if primary.get("kind") != "tensor" or not layer_cands:
        return False
    p = primary["shape"]
    for _, c in layer_cands:
        if c.get("kind") != "tensor" or c["dtype"] != primary["dtype"] or not p:
            continue
        if c["shape"][-1] == p[-1] or (len(c["shape"]) >= 3 and len(p) >= 3 and c["shape"][1] == p[1]):
            return True
    return False


def _order_by_rank(cands: list[Candidate], use: Use) -> list[Candidate]:
    """Put candidates of the rank forward needs (`b, c, h, w = x.shape`) first; add one if none."""
    want = use.rank
    low = use.min_rank
    if not want and not low:
        return cands

    def fits(spec: dict[str, Any]) -> bool:
        if spec.get("kind") != "tensor":
            return True
        r = len(spec["shape"])
        return (want is None or r == want) and r >= low

    good = [c for c in cands if fits(c[1])]
    if want and not any(c[1].get("kind") == "tensor" for c in good):
        like = next((c[1] for c in cands if c[1].get("kind") == "tensor"), None)
        good = [("static:rank", tensor(rank_shape(want, like)))]
    return good + [c for c in cands if not fits(c[1])]


def make_candidates(module: nn.Module, init_spec: dict[str, Any]) -> tuple[list[Slot], Context, Callable[[int, dict[str, Any] | None], list[Candidate]]]:
    """Slots for forward's required params, and a function giving each slot's candidates."""
    slots, varargs, _ = forward_slots(module)
    if not slots and varargs:
        slots = [Slot("input", False)]
    ctx = context_for(module, init_spec)
    from capture.deduce.shapecheck import checked_shape
    for slot in slots:
        slot.layer_path = slot.use.first_layer
        slot.layer = resolve_layer(module, slot.layer_path)
        slot.checked = checked_shape(module, slot.name)
    if slots and slots[0].layer is None and not slots[0].use.first_layer:
        slots[0].layer = first_layer(module)

    def candidates(index: int, primary: dict[str, Any] | None) -> list[Candidate]:
        ctx.primary = primary
        return slot_candidates(slots[index], ctx, index)

    return slots, ctx, candidates
