"""capture/deduce/guards.py: the value a guard accepts, read from the frame that raised."""
from __future__ import annotations

import pytest

from capture.deduce.guards import accepted_value, wanted_length

MODES = ("fast", "exact")
FORBIDDEN = {3, 5}


class Guarded:
    sizes = {18: "small", 50: "large"}
    STAGES = 4

    def __init__(self, depth=2, mode="x", k=3, widths=(1,)):
        if depth not in self.sizes.keys() or mode not in MODES:
            raise KeyError(f"invalid depth {depth} or mode {mode}")
        if k in FORBIDDEN:
            raise ValueError("k must not be 3 or 5")
        assert len(widths) == self.STAGES, "one width per stage"


def _error(**kwargs) -> BaseException:
    with pytest.raises(Exception) as info:
        Guarded(**kwargs)
    return info.value


def test_each_membership_the_guard_needs_gives_a_member() -> None:
    assert accepted_value(_error(), ["depth", "mode"]) == ("depth", 18)
    assert accepted_value(_error(depth=18), ["mode"]) == ("mode", "fast")


def test_a_guard_that_forbids_members_gives_none() -> None:
    assert accepted_value(_error(depth=18, mode="fast"), ["k"]) is None


def test_a_length_guard_gives_the_length_it_wants() -> None:
    exc = _error(depth=18, mode="fast", k=1)
    assert wanted_length(exc, ["widths"]) == ("widths", 4)
    assert accepted_value(exc, ["widths"]) is None
