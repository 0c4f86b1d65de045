"""Which stand-ins a case really leaned on once it was imported.

Why: a file that does `from PIL import Image` at the top for a data loader gets
a PIL stub so its model classes load; a model that never touches PIL while it
is built and run does not depend on that stub, and counting it as "needs a
stub" said something untrue about the case. The loader records every stand-in
it made (`results.stubs`, unchanged); this module watches the stand-ins from the
moment the import is done (`arm`) to the end of eager, and `used` says which of
the recorded entries were touched then (`results.stubs_used`).

A stand-in is touched when it is called, instantiated, indexed, asked for a
non-dunder attribute or put through arithmetic/len/iteration. Entries the
loader records that are no stand-in (skipped top-level statements, torch compat
shims, the einops stand-in, torch calls answered for this machine) are not
watched, so they always count as used. A touch whose origin is unknown (an
object made by a stand-in without one) counts every entry as used: the figure
may overstate dependence, never understate it.
"""
from __future__ import annotations

UNKNOWN = "?"
_touched: list[set[str] | None] = [None]  # None: not armed (the import itself is not watched)


def arm() -> None:
    """Start watching: what the case does from here on (construction, forward) is its use."""
    _touched[0] = set()


def disarm() -> set[str]:
    """Stop watching; the origins touched since `arm`."""
    seen, _touched[0] = _touched[0] or set(), None
    return seen


def touch(origin: str | None) -> None:
    """A stand-in from `origin` (a dotted name: 'PIL.Image', 'mylib._C.op') was used."""
    seen = _touched[0]
    if seen is not None:
        seen.add(origin or UNKNOWN)


def _watched(entry: str) -> str | None:
    """The dotted prefix a recorded entry's stand-ins carry, or None for an entry no stand-in serves."""
    if entry.endswith(" (cpp_extension)"):
        return entry[: -len(" (cpp_extension)")]
    if " " in entry or ":" in entry or entry == "einops":
        return None  # skipped statements, compat shims, torch marks, the einops stand-in
    return entry


def used(recorded: list[str], touched: set[str]) -> list[str]:
    """The entries of `recorded` the case depended on after import (see the module docstring)."""
    if UNKNOWN in touched:
        return sorted(recorded)
    out = []
    for entry in recorded:
        prefix = _watched(entry)
        if prefix is None or any(o == prefix or o.startswith(prefix + ".") for o in touched):
            out.append(entry)
    return sorted(out)
