"""`--shard i/n`: a stable 1/n of the repos, for batch schedulers without Ray.

A repo's shard depends on its id alone (a hash, not its position in a list),
so the same repo lands in the same shard whatever the list's order or length,
and the n shards of one list are disjoint and cover it.
"""
from __future__ import annotations

import hashlib


def parse_shard(text: str) -> tuple[int, int]:
    """'3/16' -> (3, 16); raises ValueError with a one-line reason."""
    i, sep, n = text.partition("/")
    try:
        index, count = int(i), int(n)
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected i/n, e.g. 3/16") from None
    if not sep or count < 1 or not 1 <= index <= count:
        raise ValueError(f"--shard {text!r}: i must be between 1 and n")
    return index, count


def shard_of(repo_id: str, count: int) -> int:
    """The shard (1..count) a repo id belongs to."""
    digest = hashlib.sha256(repo_id.lower().encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def in_shard(repo_id: str, shard: tuple[int, int] | None) -> bool:
    return shard is None or shard_of(repo_id, shard[1]) == shard[0]
