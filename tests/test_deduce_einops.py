"""The einops stand-in the loader serves when einops is not installed: same results as the torch ops."""
from __future__ import annotations

import pytest
import torch

from capture.loading import einops_standin as E


def test_rearrange_merges_splits_and_permutes() -> None:
    x = torch.randn(2, 6, 4, 8)
    assert torch.equal(E.rearrange(x, "b c h w -> b (h w) c"), x.flatten(2).transpose(1, 2))
    y = E.rearrange(x, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=2, p2=4)
    ref = x.reshape(2, 6, 2, 2, 2, 4).permute(0, 2, 4, 3, 5, 1).reshape(2, 4, 48)
    assert torch.equal(y, ref)
    assert E.rearrange(x, "b ... w -> b w ...").shape == (2, 8, 6, 4)
    assert E.rearrange(torch.randn(5), "d -> 1 d 1").shape == (1, 5, 1)


def test_repeat_and_reduce() -> None:
    x = torch.randn(3, 5)
    assert torch.equal(E.repeat(x, "n d -> b n d", b=2), x.expand(2, 3, 5))
    img = torch.randn(2, 3, 4, 4)
    assert torch.equal(E.reduce(img, "b c (h 2) (w 2) -> b c h w", "max"), torch.nn.functional.max_pool2d(img, 2))
    assert torch.allclose(E.reduce(img, "b c h w -> b c", "mean"), img.mean((2, 3)))


def test_einsum_pack_unpack_parse_shape() -> None:
    a, b = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    assert torch.allclose(E.einsum(a, b, "b i d, b j d -> b i j"), a @ b.transpose(1, 2))
    packed, shapes = E.pack([a, torch.randn(2, 4)], "b * d")
    assert packed.shape == (2, 4, 4) and [tuple(s) for s in shapes] == [(3,), ()]
    back = E.unpack(packed, shapes, "b * d")
    assert torch.equal(back[0], a) and back[1].shape == (2, 4)
    assert E.parse_shape(a, "b _ d") == {"b": 2, "d": 4}


def test_bad_pattern_raises_einops_error() -> None:
    with pytest.raises(E.EinopsError):
        E.rearrange(torch.randn(2, 3), "a b c -> a b c")


def test_loader_serves_the_stand_in_and_records_it(tmp_path) -> None:
    import importlib.util
    if importlib.util.find_spec("einops") is not None:
        pytest.skip("einops is installed: the real one is used")
    (tmp_path / "m.py").write_text(
        "import torch.nn as nn\nfrom einops import rearrange\nfrom einops.layers.torch import Rearrange\n"
        "class Patches(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.to_seq = Rearrange('b c h w -> b (h w) c')\n"
        "    def forward(self, x):\n"
        "        return rearrange(self.to_seq(x), 'b n c -> b c n')\n")
    from capture.loading.importer import load_class
    cls, stubs = load_class(tmp_path, "m.py", "Patches")
    assert "einops" in stubs
    assert cls()(torch.randn(2, 3, 4, 4)).shape == (2, 3, 16)
