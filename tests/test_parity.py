"""backend.parity on outputs whose mismatch hides in non-finite values, and on result objects."""
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


def test_result_objects_are_compared_on_the_tensors_they_hold() -> None:
    from torch.distributions import Independent, Normal

    from backend.parity import plain, tensors
    from capture.torch_api import scalar_loss
    loc = torch.randn(2, 3, requires_grad=True)
    dist = Independent(Normal(loc, torch.ones(2, 3)), 1)
    assert [t.shape for t in tensors(dist)] == [torch.Size([2, 3])] * 2          # loc and scale
    assert compare(dist, Independent(Normal(loc.detach() + 1e-7, torch.ones(2, 3)), 1)).ok
    assert not compare(dist, Independent(Normal(loc.detach() + 1.0, torch.ones(2, 3)), 1)).ok
    scalar_loss(dist).backward()                                                  # training reduces them too
    assert loc.grad is not None

    class Deferred:                                   # holds the module that would compute it: no result
        def __init__(self):
            self.x, self.kernel = torch.ones(2), torch.nn.Linear(2, 2)
    deferred = Deferred()
    assert plain(deferred) is deferred and tensors(deferred) == []
    assert tensors(len) == [] and tensors(None) == []
