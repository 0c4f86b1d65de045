"""Fold shard databases into one: `graphcrawl merge shard*.db --db all.db`.

Shards made with `crawl --shard i/n` hold disjoint repos but share the runs
(same configuration, same run id) and, when discovery ran in each shard, the
discovered-but-not-crawled rows of every repo. Merging keeps every key as it
is (repo id, module id = checkout + path + qualname, case id, (run, case)),
so the merged database is what one unsharded crawl would have written:

- a row only one side has is copied;
- a row both sides have is the same row, or one side knows more (a repo
  scanned there but only discovered here, a case whose spec was found
  there): the fuller one wins, field by field;
- a row both sides have with different facts (a repo at another commit, a
  case with another spec, a result with another status, a run with another
  torch/backend) is a conflict: that source is refused as a whole with a
  one-line message, and nothing of it is written.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from db.store import TABLES, Store, StoreError

# Per table: the columns that are facts (must agree when both sides have them).
IDENTITY: dict[str, tuple[str, ...]] = {
    "repos": ("url", "sha"),
    "modules": ("repo_id", "sha", "path", "qualname"),
    "cases": ("module_id", "spec"),
    "runs": ("torch", "device", "backend", "mode", "fullgraph", "dynamic"),
    "results": ("status", "stage"),
    "discovery_slices": (),
}
ORDER = ("repos", "modules", "cases", "runs", "results", "discovery_slices")


class MergeConflict(StoreError):
    """Two databases disagree about the same key."""


@dataclass
class MergeCounts:
    source: str
    added: dict[str, int] = field(default_factory=dict)
    completed: dict[str, int] = field(default_factory=dict)  # rows here filled in from the source


def _pk(table: str) -> tuple[str, ...]:
    pk = TABLES[table][1]
    return (pk,) if isinstance(pk, str) else tuple(pk)


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"pragma {schema}.table_info({table})")]


def merge_databases(target: Store, sources: list[Path]) -> list[MergeCounts]:
    """Merge each source into `target` in turn (each one all or nothing)."""
    out = []
    for src in sources:
        if Path(src).resolve() == target.path.resolve():
            continue
        out.append(merge_one(target, Path(src)))
    return out


def merge_one(target: Store, source: Path) -> MergeCounts:
    if not source.is_file():
        raise StoreError(f"{source}: no such database")
    conn = target.db.conn
    try:
        conn.execute("attach database ? as src", [str(source)])  # only read from
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{source}: not a graphcrawl SQLite database ({exc})") from None
    try:
        try:
            have = {r[0] for r in conn.execute("select name from src.sqlite_master where type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{source}: not a graphcrawl SQLite database ({exc})") from None
        if not {"repos", "modules", "cases", "runs", "results"} <= have:
            raise StoreError(f"{source}: not a graphcrawl database (no repos/modules/cases/runs/results tables)")
        counts = MergeCounts(str(source))
        conn.execute("begin")
        try:
            for table in ORDER:
                if table in have:
                    _merge_table(conn, table, source, target.path, counts)
        except BaseException:
            conn.execute("rollback")
            raise
        conn.execute("commit")
        return counts
    finally:
        conn.execute("detach database src")


def _q(name: str) -> str:
    """A quoted identifier: column names such as `check` are SQL keywords."""
    return '"' + name.replace('"', '""') + '"'


def _merge_table(conn: sqlite3.Connection, table: str, source: Path, target: Path, counts: MergeCounts) -> None:
    mine = _columns(conn, "main", table)
    theirs = set(_columns(conn, "src", table))
    cols = [c for c in mine if c in theirs]
    pk = _pk(table)
    on = " and ".join(f"m.{_q(k)} = s.{_q(k)}" for k in pk)
    # Conflicts: the same key, a fact both sides know, different values.
    for col in IDENTITY[table]:
        if col not in cols:
            continue
        row = conn.execute(
            f"select {', '.join('s.' + _q(k) for k in pk)}, m.{_q(col)}, s.{_q(col)} from src.{table} s "
            f"join main.{table} m on {on} where m.{_q(col)} is not null and s.{_q(col)} is not null "
            f"and m.{_q(col)} != s.{_q(col)} limit 1").fetchone()
        if row:
            key = "/".join(str(v) for v in row[:len(pk)])
            here, there = (str(v)[:80] for v in row[len(pk):])
            raise MergeConflict(f"refusing to merge {source}: {table[:-1]} {key} has {col} {there!r} there "
                                f"but {here!r} in {target}; nothing of {source.name} was merged")
    both = conn.execute(f"select count(*) from src.{table} s join main.{table} m on {on}").fetchone()[0]
    col_list = ", ".join(_q(c) for c in cols)
    cur = conn.execute(f"insert or ignore into main.{table} ({col_list}) select {col_list} from src.{table}")
    counts.added[table] = cur.rowcount
    if both:
        counts.completed[table] = _complete(conn, table, cols, pk, on)


def _complete(conn: sqlite3.Connection, table: str, cols: list[str], pk: tuple[str, ...], on: str) -> int:
    """Rows both sides have: fill in what only the source knows."""
    rows = conn.execute(
        f"select {', '.join('m.' + _q(c) for c in cols)}, {', '.join('s.' + _q(c) for c in cols)} "
        f"from src.{table} s join main.{table} m on {on}").fetchall()
    n = len(cols)
    changed = 0
    for row in rows:
        m, s = dict(zip(cols, row[:n])), dict(zip(cols, row[n:]))
        update = _fill(table, m, s)
        if update:
            where = " and ".join(f"{_q(k)} = ?" for k in pk)
            conn.execute(f"update main.{table} set {', '.join(f'{_q(k)} = ?' for k in update)} where {where}",
                         [*update.values(), *(m[k] for k in pk)])
            changed += 1
    return changed


def _fill(table: str, m: dict[str, Any], s: dict[str, Any]) -> dict[str, Any]:
    update: dict[str, Any] = {}
    if table == "repos" and m.get("status") == "discovered" and s.get("status") not in (None, "discovered"):
        # Crawled there, only discovered here: the crawled row is the truth.
        return {k: v for k, v in s.items() if v is not None and v != m.get(k)}
    if table == "runs":
        if s.get("started_at") and (not m.get("started_at") or s["started_at"] < m["started_at"]):
            update["started_at"] = s["started_at"]
        ended = None if not (m.get("ended_at") and s.get("ended_at")) else max(m["ended_at"], s["ended_at"])
        if ended != m.get("ended_at"):
            update["ended_at"] = ended
        for col, joiner in (("host", ","), ("executor", "+")):
            if col in m:
                parts = [p for v in (m.get(col), s.get(col)) if v for p in str(v).split(joiner)]
                joined = joiner.join(dict.fromkeys(parts)) or None
                if joined != m.get(col):
                    update[col] = joined
        if "nodes" in m and s.get("nodes"):
            nodes = json.loads(m["nodes"]) if m.get("nodes") else []
            seen = {(n.get("node_id"), n.get("host")) for n in nodes}
            nodes += [n for n in json.loads(s["nodes"]) if (n.get("node_id"), n.get("host")) not in seen]
            if json.dumps(nodes, sort_keys=True) != m.get("nodes"):
                update["nodes"] = json.dumps(nodes, sort_keys=True)
    for k, v in s.items():
        if k not in update and m.get(k) is None and v is not None:
            update[k] = v
    return update
