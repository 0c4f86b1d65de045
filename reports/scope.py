"""Which results a report reads: one run, optionally one project, in one snapshot.

Why a snapshot: a report may run while a crawl writes (WAL mode). Reading
every section inside one read transaction means the funnel, the rates and the
per-project table all describe the same set of results, never a mix of
"before" and "after" the crawl's latest commit.

Why one read: `results` rows are wide (tracebacks of up to 16 KB) and a
report asks a dozen questions of the same rows. `Scope.rows()` reads the few
columns the sections need once, as plain tuples; the sections count from
those. Measured on 100,000 results, this is about twice as fast as copying
the rows into a temp table and running a dozen GROUP BYs over it, and ten
times faster than a dozen queries over `results` itself. What must stay SQL
stays SQL: the funnel-level predicates (reports/predicates.py) are evaluated
by SQLite, once per distinct combination of the columns they read.
"""
from __future__ import annotations

import contextlib
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from db.status import ABNORMAL
from db.store import Store

_ABNORMAL = frozenset(s.value for s in ABNORMAL)


class ReportError(Exception):
    """A report cannot be made as asked (unknown run, project, case...)."""


class Row(NamedTuple):
    """The columns of one result the report sections read (see `Scope.rows`)."""

    repo_id: str
    status: str
    stage: str | None
    r_graph_count: int | None          # reduced columns: see predicates.REDUCED
    r_graph_break_count: int | None
    r_max_abs_err: int | None
    graph_break_count: int | None
    compile_s: float | None
    speedup: float | None
    hook_overhead_us: float | None
    break_reasons: str | None          # JSON list text, None when empty
    break_ids: str | None
    stubs: str | None                  # the result's stubs, else the case's; None when empty
    found_by: str | None               # cases.found_by (JSON list text)
    has_spec: int
    error_type: str | None             # only for import_failed
    error_msg: str | None              # only for import_failed (first 300 characters)
    reason: str | None = None          # results.reason, only the classes in db.status.NOT_COMPILER_REASONS
    stubs_used: str | None = None      # results.stubs_used (JSON list text, '[]' when none); None before eager


def _row_sql(reason_col: str = "null", used_col: str = "null") -> str:
    from reports import predicates
    r = predicates.REDUCED
    return f"""
        select x.repo_id, x.status, x.stage,
               {r['graph_count']}, {r['graph_break_count']}, {r['max_abs_err']},
               x.graph_break_count, x.compile_s, x.speedup, x.hook_overhead_us,
               nullif(x.break_reasons, '[]'), nullif(x.break_ids, '[]'),
               nullif(coalesce(x.stubs, c.stubs), '[]'), c.found_by, c.spec is not null,
               case when x.status = 'import_failed' then x.error_type end,
               case when x.status = 'import_failed' then substr(x.error_msg, 1, 300) end,
               case when {reason_col} in {predicates.NOT_COMPILER_SQL} then {reason_col} end,
               {used_col}
        from results x left join cases c on c.id = x.case_id"""


class Group(NamedTuple):
    """Results of one project with one status (and stage, for timeout/crash/oom)."""

    repo_id: str
    status: str
    stage: str | None
    n: int
    levels: tuple[int, ...]            # count at each level of predicates.LEVELS, in order
    breaks: int
    reason: str | None = None          # a reason class that changes the kind (db.status.NOT_COMPILER_REASONS)


@dataclass
class Scope:
    """The results of one run, optionally restricted to one repo (`owner/name`)."""

    store: Store
    run_id: str
    project: str | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.store.db.conn

    def base_where(self, alias: str = "x") -> tuple[str, list[Any]]:
        """SQL condition and parameters selecting this scope's rows of the `results` table."""
        sql = f"{alias}.run_id = ?"
        params: list[Any] = [self.run_id]
        if self.project is not None:
            sql += f" and {alias}.repo_id = ?"
            params.append(self.project)
        return sql, params

    def rows(self) -> list[Row]:
        """The scope's results (the columns the report reads), read once and cached."""
        if "rows" not in self._cache:
            where, params = self.base_where()
            cur = self.conn.cursor()
            cur.row_factory = None   # plain tuples: sqlite3.Row per row costs more than the query
            self._cache["rows"] = [Row._make(r) for r in cur.execute(
                f"{_row_sql(self.col('reason'), self.col('stubs_used'))} where {where}", params)]
        return self._cache["rows"]

    def groups(self) -> list[Group]:
        """Counts per (project, status, stage of a timeout/crash/oom) with the count at
        each funnel level and the graph breaks: funnel, rates, per-project counts and
        pending cases all add these up.

        Rows are counted by the columns the level predicates read (reduced, see
        predicates.REDUCED); SQLite evaluates the predicates once per distinct
        combination, so the SQL in predicates.py stays the only definition.
        """
        if "groups" not in self._cache:
            counts: Counter[tuple] = Counter()
            breaks: Counter[tuple] = Counter()
            from reports.predicates import reduced_status
            for r in self.rows():
                # the status the level predicates see: a reason class may take a result out of them
                key = (r.repo_id, reduced_status(r.status, r.reason), r.stage, r.r_graph_count,
                       r.r_graph_break_count, r.r_max_abs_err, r.status, r.reason)
                counts[key] += 1
                if r.graph_break_count:
                    breaks[key] += r.graph_break_count
            flags = level_flags(self.conn, {k[1:6] for k in counts})
            merged: dict[tuple, list[int]] = {}
            for key, n in counts.items():
                repo, _, stage = key[:3]
                status, reason = key[6], key[7]
                gkey = (repo, status, (stage or "unknown") if status in _ABNORMAL else None, reason)
                acc = merged.get(gkey)
                if acc is None:
                    acc = merged[gkey] = [0] * (len(flags[key[1:6]]) + 2)
                acc[0] += n
                for i, f in enumerate(flags[key[1:6]]):
                    acc[1 + i] += n * f
                acc[-1] += breaks[key]
            self._cache["groups"] = [Group(k[0], k[1], k[2], a[0], tuple(a[1:-1]), a[-1], k[3])
                                     for k, a in merged.items()]
        return self._cache["groups"]

    def col(self, name: str, alias: str = "x", table: str = "results") -> str:
        """`alias.name`, or NULL when this database predates the column (reports open
        read-only, so an older database is never altered to add it)."""
        key = f"columns:{table}"
        if key not in self._cache:
            self._cache[key] = {r[1] for r in self.conn.execute(f"pragma table_info({table})")}
        return f"{alias}.{name}" if name in self._cache[key] else "null"

    def query(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        cur = self.conn.execute(sql, list(params))
        return cur.fetchall()

    def run(self) -> dict[str, Any]:
        return self.store.run(self.run_id) or {"id": self.run_id}


def level_flags(conn: sqlite3.Connection, keys: set[tuple]) -> dict[tuple, tuple[int, ...]]:
    """0/1 per funnel level for each (status, stage, reduced columns) combination,
    evaluated by SQLite with the predicates of reports/predicates.py."""
    from reports import predicates
    if not keys:
        return {}
    ordered = sorted(keys, key=lambda k: tuple("" if v is None else str(v) for v in k))
    cols = ["status", "stage", "graph_count", "graph_break_count", "max_abs_err"]
    flags = ", ".join(f"({fn('x')})" for _, (_, fn) in predicates.LEVELS.items())
    out: dict[tuple, tuple[int, ...]] = {}
    for start in range(0, len(ordered), 150):   # stay under SQLite's bound-parameter limit
        chunk = ordered[start:start + 150]
        values = ", ".join("(?, ?, ?, ?, ?)" for _ in chunk)
        sql = (f"select {flags} from (select column1 as {cols[0]}, column2 as {cols[1]}, column3 as {cols[2]}, "
               f"column4 as {cols[3]}, column5 as {cols[4]}, 1 as atol from (values {values})) x")
        params = [v for key in chunk for v in key]
        cur = conn.cursor()
        cur.row_factory = None
        for key, row in zip(chunk, cur.execute(sql, params).fetchall()):
            out[key] = tuple(int(v or 0) for v in row)
    return out


def resolve_run(store: Store, run_id: str | None) -> str:
    """The named run, or the latest one; a clear error when there is none."""
    if run_id is None:
        latest = store.latest_run_id()
        if latest is None:
            raise ReportError(f"{store.path}: no runs yet (run `graphcrawl crawl` first)")
        return latest
    if store.run(run_id) is None:
        known = ", ".join(r["id"] for r in store.runs()) or "none"
        raise ReportError(f"no run named {run_id!r} in {store.path} (runs: {known})")
    return run_id


def check_project(store: Store, project: str | None) -> str | None:
    if project is not None and store.repo(project) is None:
        raise ReportError(f"no project {project!r} in {store.path} (give it as owner/name)")
    return project


@contextlib.contextmanager
def open_store(db_path: str | Path) -> Iterator[Store]:
    """Open the database read-only for reporting, inside one read transaction."""
    store = Store(db_path, readonly=True)
    try:
        store.db.conn.row_factory = sqlite3.Row
        with snapshot(store):
            yield store
    finally:
        store.close()


@contextlib.contextmanager
def snapshot(store: Store) -> Iterator[None]:
    """A deferred read transaction: every query sees the same committed state."""
    conn = store.db.conn
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:
            conn.execute("COMMIT")


@contextlib.contextmanager
def open_scope(db_path: str | Path, run_id: str | None = None, project: str | None = None) -> Iterator[Scope]:
    """Open the database and resolve run and project into a `Scope`."""
    with open_store(db_path) as store:
        yield Scope(store, resolve_run(store, run_id), check_project(store, project))
