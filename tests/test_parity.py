"""backend.parity on outputs whose mismatch hides in non-finite values."""
from __future__ import annotations

import math

import torch

from backend.parity import compare


def test_inf_against_nan_is_an_infinite_error_not_zero() -> None:
    eager = torch.tensor([1.0, -math.inf, 2.0])
    compiled = torch.tensor([1.0, float("nan"), 2.0])
    p = compare(eager, compiled)
    assert not p.ok
    assert p.max_abs_err == math.inf


def test_matching_infinities_and_nans_are_equal() -> None:
    eager = torch.tensor([1.0, -math.inf, float("nan")])
    p = compare(eager, eager.clone())
    assert p.max_abs_err == 0.0
