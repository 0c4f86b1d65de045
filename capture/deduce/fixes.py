"""Error-driven fixes of forward inputs: one change at a time, named, in a registry.

Why: torch's error messages usually say exactly what was wrong ("expected
input[2, 1, 32, 32] to have 3 channels", "mat1 and mat2 shapes cannot be
multiplied (2x64 and 20x256)", "not enough values to unpack (expected 4, got
3)"). A fix reads one message and proposes changed inputs, each a single edit
of one tensor, so a wrong guess is rolled back by simply not keeping it.
Where the message prints the offending tensor's shape, that picks the input
to change; otherwise every input that fits is proposed, first input first.

A fix is `fn(message, exc, inputs, ctx) -> [(rule, new_inputs), ...]`,
registered with `@register("name")`; `propose` runs them all.
"""
from __future__ import annotations

import copy
import math
import re
from typing import Any, Callable, Iterator

from torch import nn

from capture.deduce.inputs import BATCH, SEQ, rank_shape

Inputs = dict[str, Any]
Path = tuple[Any, ...]
Fix = Callable[[str, BaseException, Inputs, Any], list[tuple[str, Inputs]]]

FIXES: dict[str, Fix] = {}


def register(name: str) -> Callable[[Fix], Fix]:
    """Add a fix under a unique name; its proposals are recorded as `fix:<name>`."""
    def deco(fn: Fix) -> Fix:
        if name in FIXES:
            raise ValueError(f"fix {name!r} registered twice")
        FIXES[name] = fn
        return fn
    return deco


def propose(exc: BaseException, inputs: Inputs, module: nn.Module) -> list[tuple[str, Inputs]]:
    """Every registered fix's proposals for this error, in registry order."""
    msg = str(exc)
    out: list[tuple[str, Inputs]] = []
    for name, fn in FIXES.items():
        try:
            for sub, new in fn(msg, exc, inputs, module):
                out.append((f"fix:{name}" + (f"-{sub}" if sub else ""), new))
        except (ValueError, KeyError, IndexError, TypeError, ZeroDivisionError):
            continue  # a fix that cannot parse this message proposes nothing
    return out


# -- tensors inside an inputs spec ------------------------------------------------

def leaves(inputs: Inputs) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(path, spec) of every tensor spec in the inputs, args first, in order."""
    def walk(spec: dict[str, Any], path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
        kind = spec.get("kind")
        if kind == "tensor":
            yield path, spec
        elif kind in ("tuple", "list"):
            for i, s in enumerate(spec["items"]):
                yield from walk(s, path + (i,))
        elif kind == "dict":
            for k, s in spec["items"].items():
                yield from walk(s, path + (k,))
    for i, s in enumerate(inputs.get("args", [])):
        yield from walk(s, ("args", i))
    for k, s in inputs.get("kwargs", {}).items():
        yield from walk(s, ("kwargs", k))


def replace(inputs: Inputs, path: Path, new: dict[str, Any]) -> Inputs:
    """A copy of `inputs` with the spec at `path` (from `leaves`) replaced."""
    out = copy.deepcopy(inputs)
    container: Any = out[path[0]]
    for key in path[1:-1]:
        container = container[key]["items"]
    container[path[-1]] = new
    return out


def with_shape(spec: dict[str, Any], shape: list[int]) -> dict[str, Any]:
    return {**spec, "shape": [int(s) for s in shape]}


def _nums(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"-?\d+", text)]


def _floaty(spec: dict[str, Any]) -> bool:
    return spec["dtype"].startswith(("float", "bfloat", "complex"))


def _by_shape(inputs: Inputs, shape: list[int]) -> list[tuple[Path, dict[str, Any]]]:
    """Inputs whose shape the message printed; all tensor inputs when none match."""
    all_ = list(leaves(inputs))
    exact = [(p, s) for p, s in all_ if list(s["shape"]) == shape]
    return exact or all_


# -- the fixes ------------------------------------------------------------------

@register("channels")
def _channels(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    m = re.search(r"expected input\[([\d, ]+)\] to have (\d+) channels, but got (\d+)", msg)
    if not m:
        return []
    shape, want, got = _nums(m.group(1)), int(m.group(2)), int(m.group(3))
    out = []
    for path, spec in _by_shape(inputs, shape):
        s = list(spec["shape"])
        if shape[0] == 1 and s == shape[1:]:  # an unbatched input: add the batch back
            out.append(("batch", replace(inputs, path, with_shape(_clean(spec), [BATCH, want, *s[1:]]))))
        elif len(s) >= 3 and s[1] == got:
            out.append(("", replace(inputs, path, with_shape(spec, [s[0], want, *s[2:]]))))
        elif len(s) >= 2 and s[-1] == got:  # channels-last input that forward permutes
            out.append(("last", replace(inputs, path, with_shape(spec, [*s[:-1], want]))))
        elif len(s) == 2 and list(shape) != s:
            out.append(("rank", replace(inputs, path, with_shape(spec, [s[0], want, 32]))))
    if shape[0] == 1 and len(shape) >= 3 and not any(list(sp["shape"]) == shape for _, sp in leaves(inputs)):
        # forward indexed the input first (`self.conv(x[:, 0])`): [B, C, H, W] became an unbatched
        # [B, H, W]; the input has one more dim in front of the conv's ([B, 2, C, H, W], real/imag)
        for path, spec in leaves(inputs):
            sh = list(spec["shape"])
            if _floaty(spec) and len(sh) == len(shape) and sh[0] == shape[1] and sh[2:] == shape[2:]:
                out.insert(0, ("indexed", replace(inputs, path, with_shape(spec, [sh[0], 2, want, *shape[2:]]))))
                break
    if len(shape) >= 3 and not any(list(sp["shape"]) == shape for _, sp in leaves(inputs)):
        # torch.cat((layer(x), skip), 1) into the conv: the skip input takes the channels left over
        for path, spec in leaves(inputs):
            sh = list(spec["shape"])
            if _floaty(spec) and len(sh) == len(shape) and sh[0] == shape[0] and sh[2:] == shape[2:] \
                    and got > sh[1] and want - (got - sh[1]) > 0:
                out.append(("cat-rest", replace(inputs, path, with_shape(spec, [sh[0], want - (got - sh[1]), *sh[2:]]))))
    images = [(p, sp) for p, sp in leaves(inputs) if len(sp["shape"]) == len(shape) and len(shape) >= 3]
    if len(images) >= 2 and sum(sp["shape"][1] for _, sp in images) == got and want % len(images) == 0:
        new = inputs  # torch.cat((img_a, img_b), 1) into the conv: split its channels
        for p, sp in images:
            new = replace(new, p, with_shape(sp, [sp["shape"][0], want // len(images), *sp["shape"][2:]]))
        out.insert(0, ("cat-split", new))
    return out[:3]


@register("conv-rank")
def _conv_rank(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    m = re.search(r"Expected (\d)D \(unbatched\) or (\d)D \(batched\) input to (conv|conv_transpose)(\d)d, "
                  r"but got input of size: \[([\d, ]*)\]", msg)
    if not m:
        return []
    shape = _nums(m.group(5))
    nd = int(m.group(4))
    chans = [c.in_channels for c in module.modules() if isinstance(c, nn.modules.conv._ConvNd)
             and len(c.kernel_size) == nd]
    chan = chans[0] if chans else 3
    spatial = [1] * nd if m.group(3) == "conv_transpose" and len(shape) <= 2 else [32 if nd < 3 else 16] * nd
    out = []
    for path, spec in _by_shape(inputs, shape):
        out.append(("", replace(inputs, path, with_shape(_clean(spec), [BATCH, chan, *spatial]))))
        break
    if not out:
        # no input has that shape: forward indexed it first (`self.conv(x[:, 0])`), so the input
        # has one more dim in front of the conv's (`[batch, 2, channels, H, W]` for real/imag parts)
        for path, spec in leaves(inputs):
            if _floaty(spec):
                out.append(("indexed", replace(inputs, path, with_shape(_clean(spec), [BATCH, 2, chan, *spatial]))))
                break
    return out


def _clean(spec: dict[str, Any]) -> dict[str, Any]:
    """A float tensor spec with no integer range (for turning ids into images or features)."""
    return {"kind": "tensor", "shape": spec["shape"], "dtype": "float32"}


@register("features")
def _features(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    m = re.search(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)", msg)
    if not m:
        return []
    got, need = int(m.group(2)), int(m.group(3))
    out = []
    for path, spec in leaves(inputs):
        s = list(spec["shape"])
        if not s:
            continue
        if s[-1] == got:
            out.append(("", replace(inputs, path, with_shape(spec, [*s[:-1], need]))))
        elif len(s) >= 3 and math.prod(s[1:]) == got:  # flattened input: change the image size
            out += _spatial_fixes(inputs, path, spec, got, need)
            out.append(("flat", replace(inputs, path, with_shape(_clean(spec), [s[0], need]))))
        elif len(s) >= 3 and _floaty(spec):  # flattened conv features: the spatial size decides the width
            out += _spatial_fixes(inputs, path, spec, got, need)
    flat = [(p, sp) for p, sp in leaves(inputs) if len(sp["shape"]) == 2 and _floaty(sp)]
    if len(flat) >= 2 and sum(sp["shape"][-1] for _, sp in flat) == got:
        # torch.cat([state, action], 1) into a Linear: split its width
        others = sum(sp["shape"][-1] for _, sp in flat[1:])
        if need - others > 0:
            out.append(("cat", replace(inputs, flat[0][0], with_shape(flat[0][1], [flat[0][1]["shape"][0], need - others]))))
        if need % len(flat) == 0:
            new = inputs
            for p, sp in flat:
                new = replace(new, p, with_shape(sp, [sp["shape"][0], need // len(flat)]))
            out.append(("cat-split", new))
    return out[:4]


def _spatial_fixes(inputs: Inputs, path: Path, spec: dict[str, Any], got: int, need: int) -> list[tuple[str, Inputs]]:
    """New spatial sizes for an image whose flattened features come out `got` wide, not `need`."""
    s = list(spec["shape"])
    nd = len(s) - 2
    if nd < 1:
        return []
    ratio = (need / got) ** (1.0 / nd)
    target = s[2] * ratio
    sizes = sorted({max(1, round(target)), 28, 32, 64, 96, 128, 224, 256, 16, 48, 84, 299, 8},
                   key=lambda v: abs(v - target))
    out = []
    for size in sizes[:3]:
        if size != s[2]:
            out.append(("spatial", replace(inputs, path, with_shape(spec, [*s[:2], *([size] * nd)]))))
    return out


@register("last-dim")
def _last_dim(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    pats = [r"input\.size\(-1\) must be equal to input_size\. Expected (?P<want>\d+), got (?P<got>\d+)",
            r"was expecting embedding dimension of (?P<want>\d+), but got (?P<got>\d+)",
            r"Expected input to have (?P<want>\d+) features?, but got (?P<got>\d+)"]
    for pat in pats:
        m = re.search(pat, msg)
        if m:
            want, got = int(m.group("want")), int(m.group("got"))
            return [("", replace(inputs, p, with_shape(s, [*s["shape"][:-1], want])))
                    for p, s in leaves(inputs) if s["shape"] and s["shape"][-1] == got][:2]
    m = re.search(r"Given normalized_shape=\[([\d, ]+)\], expected input with shape \[\*, ([\d, ]+)\], "
                  r"but got input of size\s*\[?\[?([\d, ]+)\]", msg)
    if m:
        ns, shape = _nums(m.group(1)), _nums(m.group(3))
        out = []
        for p, s in _by_shape(inputs, shape):
            if _floaty(s) or s["dtype"] == "float32":
                base = list(s["shape"])
                new = [*base[: max(1, len(base) - len(ns))], *ns] if len(base) > len(ns) else [BATCH, *ns]
                out.append(("layernorm", replace(inputs, p, with_shape(s, new))))
                if len(base) == len(ns):
                    out.append(("layernorm-seq", replace(inputs, p, with_shape(s, [BATCH, SEQ, *ns]))))
        return out[:2]
    return []


@register("rank")
def _rank(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    """Too few or too many dimensions: unpacking .shape, dim out of range, BatchNorm/RNN rank checks."""
    want: int | None = None
    have: int | None = None
    m = re.search(r"not enough values to unpack \(expected (\d+), got (\d+)\)", msg)
    if m:
        want, have = int(m.group(1)), int(m.group(2))
    m = m or re.search(r"too many values to unpack \(expected (\d+)\)", msg)
    if m and want is None:
        want = int(m.group(1))
        have = None
    m2 = re.search(r"Dimension out of range \(expected to be in range of \[-(\d+), \d+\], but got (-?\d+)\)", msg)
    if m2:
        have, got = int(m2.group(1)), int(m2.group(2))
        want = (got + 1) if got >= 0 else -got
        if want > 8:
            want = have + 1
    m3 = re.search(r"expected (\d)D input \(got (\d)D input\)", msg) or \
        re.search(r"input must have (\d) dimensions, got (\d)", msg) or \
        re.search(r"Expected (\d)D \(unbatched\) or \dD \(batched\) input.*got (\d)D", msg)
    if m3:
        want, have = int(m3.group(1)), int(m3.group(2))
    m4 = re.search(r"too many indices for tensor of dimension (\d+)", msg)
    if m4:
        have = int(m4.group(1))
        want = have + 1
    m5 = re.search(r"Expected (\d)D \(unbatched\) or (\d)D \(batched\) input to (\w+), but got input of size: \[([\d, ]*)\]", msg)
    if m5 and "conv" not in m5.group(3):
        want, have = int(m5.group(2)), len(_nums(m5.group(4)))
    m7 = re.search(r"input\.dim\(\) = (\d+) is not equal to len\(dims\) = (\d+)", msg)
    if m7:
        have, want = int(m7.group(1)), int(m7.group(2))
    m8 = re.search(r"Expected input to be (\d)D or (\d)D, got (\d)D", msg)
    if m8:
        want, have = int(m8.group(2)), int(m8.group(3))
        if have > want:
            want = int(m8.group(2))
    m9 = re.search(r"pattern '([^']*?)->[^']*' does not fit a tensor of (\d+) dims", msg)
    if m9 and "..." not in m9.group(1):
        want, have = len(re.findall(r"\([^)]*\)|[\w]+", m9.group(1))), int(m9.group(2))
    m10 = re.search(r"Got (\d)D input, but \w+ mode needs (\d)D input", msg)  # F.interpolate / nn.Upsample
    if m10:
        want, have = int(m10.group(2)), int(m10.group(1))
    m6 = re.search(r"Only (\d)D, (\d)D and (\d)D input Tensors supported \(got (\d)D\)", msg)
    if m6:
        want, have = int(m6.group(2)), int(m6.group(4))
    if want is None or want > 6:
        return []
    out = []
    for p, s in leaves(inputs):
        r = len(s["shape"])
        if (have is None and r > want) or r == have:
            if r == want:
                continue
            new = rank_shape(want, s)
            if not _floaty(s):
                new = new[:2] if want >= 2 and len(new) >= 2 else new
                new = [*s["shape"][:2], *([4] * (want - 2))] if want > 2 else new
            out.append((f"{want}d", replace(inputs, p, with_shape(s, new))))
    return out[:3]


@register("int64")
def _int64(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    if not re.search(r"argument #1 'indices'|scalar types?:? Long|expected scalar type Long|must be Long|"
                     r"LongTensor|tensors used as indices must be long|Expected tensor for argument #\d+ 'indices'|"
                     r"expected .*Long.* but found Float|index_select\(\): Expected dtype int|"
                     r"Expected object of scalar type Long|one_hot is only applicable to index tensor|"
                     r"only integer tensors of a single element|must be an integer tensor|"
                     r"gather\(\): Expected dtype int64", msg):
        return []
    embs = [m.num_embeddings for m in module.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))]
    high = min(embs) if embs else 10
    out = []
    every = inputs
    floats = [(p, s) for p, s in leaves(inputs) if _floaty(s)]
    for p, s in floats:
        shape = s["shape"][:2] if len(s["shape"]) > 2 else s["shape"]
        new = {"kind": "tensor", "shape": list(shape), "dtype": "int64", "low": 0, "high": high}
        out.append(("", replace(inputs, p, new)))
        every = replace(every, p, new)
    if len(floats) > 1:
        out.insert(1, ("all", every))
    return out[:4]


@register("float")
def _float(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    if not re.search(r"expected scalar type Float but found (Long|Int|Bool)|found dtype Long but expected Float|"
                     r"must have the same dtype|not implemented for '(Long|Int|Bool)'|Input type \(torch\.Long|"
                     r"expected both vectors to have same dtype|result type Float can't be cast to the desired output type Long|"
                     r"expected m1 and m2 to have the same dtype|can only calculate the mean of floating types|"
                     r"only Tensors of floating point dtype can require gradients|does not match weight dtype|"
                     r"\"\w+\" not implemented for 'Long'|expected scalar type Float but found Long", msg):
        return []
    out = []
    for p, s in leaves(inputs):
        if not _floaty(s) and s["dtype"] != "bool":
            out.append(("", replace(inputs, p, {"kind": "tensor", "shape": s["shape"], "dtype": "float32"})))
    return out[:3]


@register("unit-range")
def _unit_range(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    """Probabilities where a normal sample was given: binary_cross_entropy's "all elements of input
    should be between 0 and 1" (a loss fed raw scores), a Bernoulli's probs constraint."""
    if not re.search(r"should be between 0 and 1|must be in \[0, ?1\]|Expected parameter probs", msg):
        return []
    out = []
    for p, s in leaves(inputs):
        if _floaty(s) and (s.get("low"), s.get("high")) != (0.0, 1.0):
            out.append(("", replace(inputs, p, {**s, "low": 0.0, "high": 1.0})))
    return out[:3]


@register("bool-mask")
def _bool_mask(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    if not re.search(r"boolean masks|expected mask dtype to be Bool|mask.*must be.*bool|masked_fill.*Bool", msg, re.I):
        return []
    out = []
    for p, s in leaves(inputs):
        if s["dtype"] != "bool" and any(isinstance(x, str) and "mask" in x.lower() for x in p):
            out.append(("", replace(inputs, p, {"kind": "tensor", "shape": s["shape"], "dtype": "bool", "low": 1, "high": 2})))
    return out


@register("smaller-ids")
def _smaller_ids(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    m = re.search(r"index (-?\d+) is out of bounds for dimension \d+ with size (\d+)", msg)
    if "index out of range in self" not in msg and not m and "out of bounds" not in msg:
        return []
    embs = [e.num_embeddings for e in module.modules() if isinstance(e, (nn.Embedding, nn.EmbeddingBag))]
    limit = int(m.group(2)) if m else (min(embs) if embs else 2)
    out = []
    for p, s in leaves(inputs):
        if s["dtype"] in ("int64", "int32") and s.get("high", 10) > limit:
            out.append(("", replace(inputs, p, {**s, "low": 0, "high": max(1, limit)})))
    if m and not out:
        # an index past a dimension's end: the indexed input is too short there
        idx, size = int(m.group(1)), int(m.group(2))
        for p, s in leaves(inputs):
            if size in s["shape"]:
                shape = [(idx + 1 if d == size else d) for d in s["shape"]]
                out.append(("grow", replace(inputs, p, with_shape(s, shape))))
    return out[:3]


@register("match-size")
def _match_size(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    """Two sizes that must agree (a broadcast, a cat, a positional table): set one to the other."""
    pairs: list[tuple[int, int]] = []
    for m in re.finditer(r"The size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)", msg):
        pairs.append((int(m.group(1)), int(m.group(2))))
    for m in re.finditer(r"The expanded size of the tensor \((\d+)\) must match the existing size \((\d+)\)", msg):
        pairs.append((int(m.group(2)), int(m.group(1))))
    for m in re.finditer(r"Expected size (\d+) but got size (\d+)", msg):
        pairs.append((int(m.group(2)), int(m.group(1))))
    m = re.search(r"Expected size for first two dimensions of batch2 tensor to be: \[(\d+), (\d+)\] but got: \[(\d+), (\d+)\]", msg)
    if m:
        pairs.append((int(m.group(4)), int(m.group(2))))
    if not pairs:
        return []
    out = []
    # a cat whose later tensor is off (a U-Net skip at twice the size): change later inputs first
    later = re.search(r"for tensor number ([1-9]\d*) in the list", msg)
    order = list(leaves(inputs))[::-1] if later else list(leaves(inputs))
    for a, b in pairs[:1]:
        for p, s in order:
            shape = list(s["shape"])
            if len(shape) >= 3 and _floaty(s) and len(set(shape[2:])) == 1 and shape[2] in (a, b):
                # square spatial dims change together ([B, C, 32, 32] -> [B, C, 64, 64])
                new = b if shape[2] == a else a
                out.append(("spatial", replace(inputs, p, with_shape(s, [*shape[:2], *([new] * (len(shape) - 2))]))))
        for p, s in leaves(inputs):
            shape = list(s["shape"])
            for i, d in enumerate(shape):
                if i == 0 and len(shape) > 1:
                    continue  # the batch is never the culprit
                for old, new in ((a, b), (b, a)):
                    if d == old and new > 0:
                        out.append(("", replace(inputs, p, with_shape(s, shape[:i] + [new] + shape[i + 1:]))))
                        # tokens from a patch grid: N = (S/k)^2 (+1 for a class token)
            if len(shape) == 4 and _floaty(s):
                for n in (a, b):
                    for extra in (0, 1):
                        side = math.isqrt(max(0, n - extra))
                        if side > 0 and side * side == n - extra:
                            convs = [c for c in module.modules() if isinstance(c, nn.Conv2d) and c.stride[0] > 1]
                            k = convs[0].stride[0] if convs else 1
                            size = side * k
                            if size != shape[2] and 4 <= size <= 512:
                                out.append(("patch-grid", replace(inputs, p, with_shape(s, [*shape[:2], size, size]))))
    uniq, seen = [], set()
    for rule, new in out:
        if repr(new) not in seen:
            seen.add(repr(new))
            uniq.append((rule, new))
    return uniq[:4]


@register("too-small")
def _too_small(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    if not re.search(r"Output size is too small|Kernel size can't be greater than actual input size|"
                     r"Padding size should be less than|input image \(.*\) smaller than kernel|"
                     r"Expected more than 1 (spatial element|value per channel)|pad should be smaller than|"
                     r"Calculated padded input size per channel", msg):
        return []
    out = []
    for p, s in leaves(inputs):
        shape = list(s["shape"])
        if len(shape) >= 3 and _floaty(s):
            nd = len(shape) - 2
            for size in (64, 128, 224):
                if size > max(shape[2:]):
                    out.append(("", replace(inputs, p, with_shape(s, [*shape[:2], *([size] * nd)]))))
                    break
        elif len(shape) == 2 and _floaty(s) and shape[-1] < 64:
            out.append(("2d", replace(inputs, p, with_shape(s, [shape[0], 64]))))
    return out[:2]


@register("view")
def _view(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    m = re.search(r"shape '\[([-\d, ]+)\]' is invalid for input of size (\d+)", msg)
    if not m:
        return []
    target, size = _nums(m.group(1)), int(m.group(2))
    fixed = math.prod(d for d in target if d > 0)
    out = []
    for p, s in leaves(inputs):
        shape = list(s["shape"])
        if math.prod(shape) != size or not shape:
            continue
        others = size // shape[-1]
        if -1 not in target:
            if fixed % others == 0:
                out.append(("last", replace(inputs, p, with_shape(s, [*shape[:-1], fixed // others]))))
            if fixed % BATCH == 0 and len(target) >= 2:
                out.append(("as-target", replace(inputs, p, with_shape(s, target))))
        else:
            g = math.gcd(fixed, others)
            width = fixed // g
            if width != shape[-1]:
                out.append(("last", replace(inputs, p, with_shape(s, [*shape[:-1], width]))))
    return out[:2]


@register("arg-count")
def _arg_count(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    m = re.search(r"forward\(\) takes (\d+) positional arguments? but (\d+) (were|was) given", msg)
    if m:
        keep = int(m.group(1)) - 1
        if keep < len(inputs.get("args", [])):
            return [("fewer", {**copy.deepcopy(inputs), "args": copy.deepcopy(inputs["args"][:keep])})]
    m = re.search(r"forward\(\) missing (\d+) required positional arguments?", msg)
    if m and inputs.get("args"):
        n = int(m.group(1))
        return [("more", {**copy.deepcopy(inputs), "args": copy.deepcopy(inputs["args"]) +
                          [copy.deepcopy(inputs["args"][0]) for _ in range(n)]})]
    return []


@register("tuple-input")
def _tuple_input(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    """`a, b = x` on a tensor of batch 2 unpacks fine; other arities say they wanted a sequence."""
    m = re.search(r"(not enough|too many) values to unpack \(expected (\d+)(, got (\d+))?\)", msg)
    if not m:
        return []
    n = int(m.group(2))
    out = []
    for p, s in leaves(inputs):
        if len(p) == 2 and m.group(4) is not None and int(m.group(4)) == s["shape"][0]:
            out.append(("", replace(inputs, p, {"kind": "tuple", "items": [dict(s) for _ in range(n)]})))
    return out[:1]


@register("list-input")
def _list_input(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    """torch.cat(xs) on a tensor: forward wanted a list of tensors."""
    if not re.search(r"must be tuple of Tensors, not Tensor|expected a list|argument 'tensors'.*not Tensor", msg):
        return []
    out = []
    for p, s in leaves(inputs):
        if len(p) == 2:
            out.append(("", replace(inputs, p, {"kind": "list", "items": [dict(s), dict(s)]})))
    return out[:2]


@register("loss-target")
def _loss_target(msg: str, exc: BaseException, inputs: Inputs, module: Any) -> list[tuple[str, Inputs]]:
    """A classification loss: scores [B, C] and int64 class targets [B] (or [B, ...] for dense outputs)."""
    if not re.search(r"0D or 1D target tensor expected|multi-target not supported|"
                     r"Expected floating point type for target with class probabilities|"
                     r"expected scalar type Long but found Float|Expected target size|"
                     r"target .* is out of bounds|nll_loss", msg):
        return []
    args = inputs.get("args", [])
    if len(args) < 2 or args[0].get("kind") != "tensor" or args[1].get("kind") != "tensor":
        return []
    new = copy.deepcopy(inputs)
    new["args"][0] = {"kind": "tensor", "shape": [BATCH, 10], "dtype": "float32"}
    new["args"][1] = {"kind": "tensor", "shape": [BATCH], "dtype": "int64", "low": 0, "high": 10}
    dense = copy.deepcopy(inputs)
    dense["args"][0] = {"kind": "tensor", "shape": [BATCH, 10, SEQ], "dtype": "float32"}
    dense["args"][1] = {"kind": "tensor", "shape": [BATCH, SEQ], "dtype": "int64", "low": 0, "high": 10}
    return [("", new), ("dense", dense)]
