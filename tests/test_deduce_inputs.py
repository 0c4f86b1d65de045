"""The deducer on tiny fixture modules, one per input family, run in-process.

Each test asserts the inputs found (shape, dtype, value range), not only that
something ran: inputs should look like real use.
"""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from capture.deduce import specs
from capture.deduce.search import deduce


def _args(found) -> list[dict]:
    return found.spec["inputs"]["args"]


def _replays(found, cls) -> None:
    """The stored spec, through JSON, rebuilds a module and inputs that run."""
    from capture.deduce.replay import build_inputs, build_module
    spec = json.loads(json.dumps(found.spec))
    module = build_module(cls, spec)
    args, kwargs = build_inputs(spec)
    with torch.no_grad():
        module(*args, **kwargs)


# -- images ---------------------------------------------------------------------

class GrayNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(8, 10)

    def forward(self, img):
        return self.head(self.stem(img).mean((2, 3)))


class Signal1d(nn.Module):
    def __init__(self, n_leads=12):
        super().__init__()
        self.conv = nn.Conv1d(n_leads, 16, 5)

    def forward(self, x):
        return self.conv(x)


class Video3d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(2, 4, 3)

    def forward(self, clip):
        return self.conv(clip)


class MnistNet(nn.Module):
    """Flattens a fixed-size feature map: only 28x28 inputs fit fc1."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.fc1 = nn.Linear(320, 50)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        return self.fc1(x.view(-1, 320))


@pytest.mark.parametrize("cls,channels,rank", [(GrayNet, 1, 4), (Signal1d, 12, 3), (Video3d, 2, 5)])
def test_image_channels_come_from_the_first_conv(cls, channels, rank) -> None:
    found = deduce(cls)
    (x,) = _args(found)
    assert x["dtype"] == "float32" and len(x["shape"]) == rank and x["shape"][1] == channels
    assert x["shape"][0] == 2 and max(x["shape"][2:]) <= 64
    assert any(r.startswith("layer:conv") for r in found.found_by)
    _replays(found, cls)


class Needs24(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)
        self.fc = nn.Linear(8 * 12 * 12, 4)

    def forward(self, x):
        return self.fc(F.max_pool2d(self.conv(x), 2).flatten(1))


def test_flattened_feature_map_gets_the_image_size_it_needs() -> None:
    (x,) = _args(deduce(MnistNet))
    assert x["shape"][1] == 1 and x["shape"][2:] == [28, 28]
    found = deduce(Needs24)
    (x,) = _args(found)
    assert x["shape"] == [2, 3, 24, 24]
    assert "fix:features-spatial" in found.found_by


# -- token ids --------------------------------------------------------------------

class TokenClassifier(nn.Module):
    def __init__(self, vocab_size, dim):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.out = nn.Linear(dim, 2)

    def forward(self, input_ids):
        return self.out(self.embed(input_ids).mean(1))


class OddlyNamedTokens(nn.Module):
    def __init__(self):
        super().__init__()
        self.lut = nn.Embedding(37, 8)
        self.proj = nn.Linear(8, 8)

    def forward(self, q):
        return self.proj(self.lut(q))


@pytest.mark.parametrize("cls", [TokenClassifier, OddlyNamedTokens])
def test_token_ids_are_int64_below_the_vocabulary(cls) -> None:
    found = deduce(cls)
    (ids,) = _args(found)
    vocab = next(m for m in found.module.modules() if isinstance(m, nn.Embedding)).num_embeddings
    assert ids["dtype"] == "int64" and len(ids["shape"]) == 2
    assert ids["low"] >= 0 and ids["high"] <= vocab
    _replays(found, cls)


# -- sequences ----------------------------------------------------------------------

class SeqFirstLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(10, 16)

    def forward(self, seq_input):
        out, _ = self.rnn(seq_input)
        return out


class BatchFirstGRU(nn.Module):
    def __init__(self, n_features=6):
        super().__init__()
        self.gru = nn.GRU(n_features, 12, batch_first=True)

    def forward(self, x):
        return self.gru(x)[0]


class EncoderLayerWrapper(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(d_model=24, nhead=4, dim_feedforward=32, batch_first=True)

    def forward(self, h):
        return self.layer(h)


def test_rnn_time_major_gets_seq_batch_features() -> None:
    (x,) = _args(deduce(SeqFirstLSTM))
    assert x["shape"][1] == 2 and x["shape"][2] == 10 and x["shape"][0] != 2


def test_rnn_batch_first_gets_batch_seq_features() -> None:
    (x,) = _args(deduce(BatchFirstGRU))
    assert x["shape"][0] == 2 and x["shape"][2] == 6 and len(x["shape"]) == 3


def test_transformer_layer_gets_batch_seq_dmodel() -> None:
    found = deduce(EncoderLayerWrapper)
    (x,) = _args(found)
    assert x["shape"][0] == 2 and x["shape"][2] == 24 and len(x["shape"]) == 3
    assert "layer:transformer" in found.found_by


class PermutesBeforeConv(nn.Module):
    """(batch, time, features) in, Conv1d over time: forward transposes first."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(40, 8, 3)

    def forward(self, feats):
        return self.conv(feats.transpose(1, 2))


def test_transpose_before_the_first_layer_is_undone() -> None:
    (x,) = _args(deduce(PermutesBeforeConv))
    assert len(x["shape"]) == 3 and x["shape"][-1] == 40


# -- masks and lengths -------------------------------------------------------------

class MaskedMean(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 8)

    def forward(self, tokens, mask):
        h = self.emb(tokens).masked_fill(~mask.unsqueeze(-1), 0.0)
        return h.sum(1) / mask.sum(1, keepdim=True)


class PackedGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(30, 8)
        self.rnn = nn.GRU(8, 8, batch_first=True)

    def forward(self, text, text_lengths):
        packed = nn.utils.rnn.pack_padded_sequence(self.emb(text), text_lengths, batch_first=True)
        _, h = self.rnn(packed)
        return h[-1]


def test_mask_is_bool_batch_by_seq_with_no_empty_row() -> None:
    found = deduce(MaskedMean)
    ids, mask = _args(found)
    assert ids["dtype"] == "int64" and mask["dtype"] == "bool"
    data = torch.tensor(mask["data"]) if mask["kind"] == "literal" else None
    assert data is not None and list(data.shape) == ids["shape"]
    assert bool(data.any(1).all()) and not bool(data.all())
    assert "name:mask" in found.found_by


def test_lengths_are_int64_within_the_sequence_and_sorted() -> None:
    found = deduce(PackedGRU)
    ids, lengths = _args(found)
    values = lengths["data"]
    assert lengths["dtype"] == "int64" and len(values) == ids["shape"][0]
    assert values == sorted(values, reverse=True) and max(values) <= ids["shape"][1] and min(values) >= 1


class OptionalMask(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x, key_padding_mask=None):
        return self.attn(x, x, x, key_padding_mask=key_padding_mask)[0]


def test_optional_mask_is_added_when_it_runs() -> None:
    found = deduce(OptionalMask)
    (x,) = _args(found)
    kw = found.spec["inputs"]["kwargs"]
    assert x["shape"] == [2, 8, 16]
    assert "key_padding_mask" in kw and kw["key_padding_mask"]["dtype"] == "bool"
    out = found.module(*specs.materialize_call(found.spec["inputs"], specs.make_generator(0))[0],
                       **specs.materialize_call(found.spec["inputs"], specs.make_generator(0))[1])
    assert bool(torch.isfinite(out).all())


# -- several inputs, tuples, dicts, keywords -----------------------------------------

class Critic(nn.Module):
    def __init__(self, state_dim, action_dim):
        super().__init__()
        self.l1 = nn.Linear(state_dim + action_dim, 32)
        self.l2 = nn.Linear(32, 1)

    def forward(self, state, action):
        return self.l2(F.relu(self.l1(torch.cat([state, action], 1))))


def test_several_inputs_get_their_own_widths() -> None:
    found = deduce(Critic)
    state, action = _args(found)
    init = found.spec["init"]["kwargs"]
    assert state["shape"] == [2, init["state_dim"]["value"]]
    assert action["shape"] == [2, init["action_dim"]["value"]]


class PairInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 4)

    def forward(self, pair):
        left, right = pair
        return self.a(left) - self.a(right)


class DictInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.emb = nn.Embedding(20, 4)

    def forward(self, batch):
        img = self.conv(batch["image"]).mean((2, 3))
        return img + self.emb(batch["input_ids"]).mean(1)


class KeywordOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(12, 3)

    def forward(self, x, *, temperature):
        return self.lin(x) / temperature


def test_tuple_input_from_unpacking() -> None:
    found = deduce(PairInput)
    (pair,) = _args(found)
    assert pair["kind"] in ("tuple", "list") and len(pair["items"]) == 2
    assert all(item["shape"][-1] == 8 for item in pair["items"])


def test_dict_input_from_subscripts() -> None:
    found = deduce(DictInput)
    (batch,) = _args(found)
    assert batch["kind"] == "dict" and set(batch["items"]) == {"image", "input_ids"}
    assert batch["items"]["input_ids"]["dtype"] == "int64" and batch["items"]["input_ids"]["high"] <= 20
    assert batch["items"]["image"]["shape"][1] == 3
    assert "static:dict-input" in found.found_by
    _replays(found, DictInput)


def test_keyword_only_inputs_go_in_kwargs() -> None:
    found = deduce(KeywordOnly)
    assert list(found.spec["inputs"]["kwargs"]) == ["temperature"]
    assert _args(found)[0]["shape"][-1] == 12


# -- graphs, diffusion, rank from unpacking -------------------------------------------

class GraphConv(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_features, out_features))
        self.in_features = in_features

    def forward(self, x, adj):
        return torch.spmm(adj, torch.mm(x, self.weight))


class Denoiser(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.t_emb = nn.Embedding(10, 3)

    def forward(self, x, t):
        return self.conv(x) + self.t_emb(t)[:, :, None, None]


class TokensFromShape(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.qkv = nn.Linear(dim, dim * 3)

    def forward(self, x):
        b, n, c = x.shape
        return self.qkv(x).reshape(b, n, 3, c)


def test_graph_input_gets_nodes_by_features_and_square_adjacency() -> None:
    x, adj = _args(deduce(GraphConv))
    assert len(x["shape"]) == 2 and adj["shape"] == [x["shape"][0], x["shape"][0]]


def test_diffusion_time_steps_are_int64_per_batch_item() -> None:
    x, t = _args(deduce(Denoiser))
    assert x["shape"][:2] == [2, 3] and t["shape"] == [2] and t["dtype"] == "int64" and t["high"] <= 10


def test_rank_from_unpacking_shape() -> None:
    (x,) = _args(deduce(TokensFromShape))
    assert len(x["shape"]) == 3 and x["shape"][-1] == 16
