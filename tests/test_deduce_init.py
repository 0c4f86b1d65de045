"""Constructor deduction: values read from how __init__ uses its arguments."""
from __future__ import annotations

import json
import sys
import types

import torch
import torch.nn as nn

from capture.deduce import specs
from capture.deduce.search import DeduceFailed, construct, deduce, is_input_error
from capture.deduce.static import read_class


class FromConfig(nn.Module):
    """Attribute access, item access and a nested section, as real configs are read."""

    def __init__(self, cfg):
        super().__init__()
        self.emb = nn.Embedding(cfg["vocab_size"], cfg.model.hidden)
        self.blocks = nn.ModuleList([nn.Linear(cfg.model.hidden, cfg.model.hidden) for _ in range(cfg.n_layers)])
        self.act = nn.GELU() if cfg.get("activation", "gelu") == "gelu" else nn.ReLU()

    def forward(self, input_ids):
        h = self.emb(input_ids)
        for blk in self.blocks:
            h = self.act(blk(h))
        return h


class DictConfig(nn.Module):
    def __init__(self, params: dict):
        super().__init__()
        self.conv = nn.Conv2d(params["in_channels"], params["width"], 3)

    def forward(self, x):
        return self.conv(x)


def test_config_attribute_item_and_nested_access() -> None:
    found = deduce(FromConfig)
    cfg = found.spec["init"]["kwargs"]["cfg"]
    assert cfg["kind"] == "config"
    assert cfg["attrs"]["model"]["kind"] == "config" and "hidden" in cfg["attrs"]["model"]["attrs"]
    assert cfg["attrs"]["vocab_size"]["value"] >= 10 and cfg["attrs"]["activation"]["value"] == "gelu"
    (ids,) = found.spec["inputs"]["args"]
    assert ids["dtype"] == "int64" and ids["high"] <= cfg["attrs"]["vocab_size"]["value"]
    # the stored config replays as a plain attribute/item bag
    module, _ = construct(FromConfig, json.loads(json.dumps(found.spec["init"])), 0)
    assert module.emb.num_embeddings == cfg["attrs"]["vocab_size"]["value"]


def test_dict_config_gets_image_channels_from_the_conv_it_feeds() -> None:
    found = deduce(DictConfig)
    params = found.spec["init"]["kwargs"]["params"]
    assert params["attrs"]["in_channels"]["value"] == 3
    assert found.spec["inputs"]["args"][0]["shape"][1] == 3


class Norms(nn.Module):
    def __init__(self, dim, norm):
        super().__init__()
        if norm == "group":
            self.norm = nn.GroupNorm(4, dim)
        elif norm == "batch":
            self.norm = nn.BatchNorm2d(dim)
        else:
            raise ValueError(norm)

    def forward(self, x):
        return self.norm(x)


def test_string_argument_takes_a_value_the_source_compares_with() -> None:
    found = deduce(Norms)
    assert found.spec["init"]["kwargs"]["norm"]["value"] == "group"
    assert "init:str-compare" in found.found_by


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(in_planes, planes, 3, stride, 1)

    def forward(self, x):
        return torch.relu(self.conv(x))


class TinyResNet(nn.Module):
    """kuangliu-style: a block class and a list of block counts, used in a helper."""

    def __init__(self, block, num_blocks, num_classes=10):
        super().__init__()
        self.in_planes = 8
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.layer1 = self._make_layer(block, 8, num_blocks[0])
        self.layer2 = self._make_layer(block, 16, num_blocks[1])
        self.fc = nn.Linear(16 * block.expansion, num_classes)

    def _make_layer(self, block, planes, n):
        layers = []
        for _ in range(n):
            layers.append(block(self.in_planes, planes))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        return self.fc(self.layer2(self.layer1(self.conv1(x))).mean((2, 3)))


def test_block_class_and_list_arguments_through_a_helper_method() -> None:
    reading = read_class(TinyResNet, "__init__")
    assert reading.use("block").called and reading.use("num_blocks").keys
    found = deduce(TinyResNet)
    kw = found.spec["init"]["kwargs"]
    assert kw["block"] == {"kind": "class", "module": __name__, "name": "BasicBlock"}
    assert kw["num_blocks"]["kind"] == "list" and len(kw["num_blocks"]["items"]) >= 2
    assert found.spec["inputs"]["args"][0]["shape"][1] == 3
    assert specs.materialize(kw["block"], torch.Generator()) is BasicBlock


def test_global_defined_only_under_main_is_guessed_and_recorded() -> None:
    mod = types.ModuleType("graphcrawl_test_globals")
    exec(
        "import torch.nn as nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.emb = nn.Embedding(n_class, embedding_size)\n"
        "    def forward(self, x):\n"
        "        return self.emb(x)\n", mod.__dict__)
    sys.modules[mod.__name__] = mod
    try:
        found = deduce(mod.Net)
        assert set(found.spec["init"]["globals"]) == {"n_class", "embedding_size"}
        assert "init:missing-global" in found.found_by
        (ids,) = found.spec["inputs"]["args"]
        assert ids["dtype"] == "int64" and ids["high"] <= mod.n_class
    finally:
        sys.modules.pop(mod.__name__, None)


class NeedsFile(nn.Module):
    def __init__(self, path):
        super().__init__()
        with open(path) as f:
            f.read()


def test_constructor_that_cannot_be_built_fails_at_init_with_the_error() -> None:
    try:
        deduce(NeedsFile, budget_s=5)
    except DeduceFailed as exc:
        assert exc.stage == "init" and isinstance(exc.error, OSError) and exc.tries >= 1
    else:
        raise AssertionError("expected DeduceFailed")


def test_spec_records_eval_mode_and_module_is_in_eval() -> None:
    found = deduce(Norms)
    assert found.spec["mode"] == "eval" and not found.module.training
    found = deduce(Norms, mode="train")
    assert found.spec["mode"] == "train" and found.module.training


def test_input_errors_are_told_apart_from_broken_modules() -> None:
    assert is_input_error(RuntimeError("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"))
    assert is_input_error(ValueError("not enough values to unpack (expected 4, got 3)"))
    assert not is_input_error(NotImplementedError("subclasses implement forward"))
    assert not is_input_error(ZeroDivisionError("division by zero"))
