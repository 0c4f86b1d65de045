"""Schema and every read/write of the graphcrawl database.

Why a class over sqlite-utils: the driver is the single writer, reports are
readers that may run while a crawl writes (WAL mode), and every write that
must not be lost by a kill -9 is committed before the next case starts.
"""
from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator

import sqlite_utils

SCHEMA_VERSION = 1


class StoreError(Exception):
    """The database file cannot be used (not SQLite, unreadable, wrong schema)."""


class StoreLocked(StoreError):
    """Another graphcrawl process is writing to this database."""


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...]]] = {
    "repos": ({
        "id": str, "url": str, "owner": str, "name": str, "stars": int,
        "license": str, "default_branch": str, "size_kb": int, "pushed_at": str,
        "created_at": str, "topics": str, "fork": int, "archived": int,
        "source": str, "discovered_at": str, "status": str, "error": str,
        "sha": str, "checkout_path": str, "clone_s": float, "disk_bytes": int,
        "module_count": int, "scanned_at": str,
        "selected": int,  # 1: a crawl chose it (--repo, --repos-file, within --limit N); else only seen
    }, "id"),
    "modules": ({
        "id": str, "repo_id": str, "sha": str, "path": str, "qualname": str,
        "line": int, "bases": str, "init_params": str, "forward_params": str,
    }, "id"),
    "cases": ({
        "id": str, "module_id": str, "repo_id": str, "spec": str,
        "found_by": str, "stubs": str, "created_at": str, "created_run": str,
    }, "id"),
    "runs": ({
        "id": str, "torch": str, "triton": str, "python": str, "compiler": str,
        "device": str, "device_name": str, "backend": str, "mode": str,
        "fullgraph": int, "dynamic": int, "config": str, "host": str,
        "started_at": str, "ended_at": str, "check": str, "executor": str, "nodes": str,
        "load_avg": str, "packages": str,  # JSON: the machine's 1-min load average sampled during the run (issue 12)
    }, "id"),
    "results": ({
        "run_id": str, "case_id": str, "module_id": str, "repo_id": str,
        "status": str, "stage": str, "error_type": str, "error_msg": str,
        "error_frame": str, "traceback": str, "signal": str, "exit_code": int,
        "nondeterministic": int, "rng_dependent": int, "stubs": str,
        "graph_count": int, "graph_break_count": int, "break_reasons": str,
        "break_ids": str, "op_count": int, "ops_per_graph": str,
        "guard_count": int, "recompiles": int, "capture_s": float,
        "eager_ms": float, "hook_ms": float, "hook_overhead_us": float,
        "compile_s": float, "compile_cache": str, "compiled_ms": float, "speedup": float,
        "max_abs_err": float, "rmse": float, "cosine": float,
        "atol": float, "rtol": float, "ladder": str, "wall_s": float,
        "finished_at": str, "stage_s": str, "reason": str,
        # training runs (runs.check = training)
        "backward_graphs": int, "backward_compile_s": float,
        # dynamic-shape runs (runs.check = dynamic): per-size records, guard-failure reasons
        "sizes": str, "sizes_tried": int, "sizes_rejected": int, "recompile_reasons": str, "dynamic_true": str,
        "trace_path": str, "compile_cpu_s": float, "hook_ratio": float,  # issue 12
        "hook_overhead_ci_us": float, "hook_samples": int,
        "node_id": str, "node_host": str,  # issue 9
        "case_cpu_s": float, "flaky": int, "rerun": str, "rerun_s": float,  # issue 16: CPU budgets, confirmation
        "compile_phases": str,  # issue 18: the compile's seconds by layer (torch's compile-time metrics)
        # export runs (runs.check = export, issue 17): per-step outcomes {step: {ok, s, class, error}},
        # the failure class of the case's failing step, strict export's outcome ('pass' or a class),
        # draft_export's report where an export failed, 1 when Dim.AUTO's batch was specialised
        "export_steps": str, "export_class": str, "export_strict": str, "draft_report": str,
        "dynamic_specialized": int,
        "traces": int,  # issue 18: Dynamo traces the inference check made (1: capture and compile in one)
        "stubs_used": str,  # issue 19: the stubs entries the case touched once imported (capture/loading/stub_use.py)
    }, ("run_id", "case_id")),
    "discovery_slices": ({
        "id": str, "query": str, "total": int, "done": int, "pages": int,
        "updated_at": str,
    }, "id"),
    "meta": ({"key": str, "value": str}, "key"),
}

INDEXES = [
    ("modules", ["repo_id"]),
    ("cases", ["module_id"]),
    ("cases", ["repo_id"]),  # pending_cases(repo) per repo: without it a crawl is quadratic in repos
    ("results", ["run_id", "status"]),
    ("results", ["case_id"]),
]


class Store:
    """Open (creating if needed) a graphcrawl database."""

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self._lock_fd: int | None = None
        if readonly and not self.path.exists():
            raise StoreError(f"{self.path}: no such database (run `graphcrawl crawl` first)")
        try:
            conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self.db = sqlite_utils.Database(conn)
            if not readonly:
                self._create()
            elif self.db["meta"].exists():
                self._upgrade_columns()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a graphcrawl SQLite database ({exc})") from exc

    # -- lifecycle ---------------------------------------------------------
    def _missing_columns(self) -> list[tuple[str, str, type]]:
        out = []
        for name, (columns, _) in TABLES.items():
            table = self.db[name]
            if table.exists():
                have = set(table.columns_dict)
                out += [(name, col, typ) for col, typ in columns.items() if col not in have]
        return out

    def _upgrade_columns(self) -> None:
        """A database written by an older graphcrawl lacks newer (nullable) columns.

        Why even for readers: reports select the new columns; adding a NULL column
        changes no recorded value, so a reader may do it where it can write the file.
        """
        missing = self._missing_columns()
        if not missing:
            return
        if not os.access(self.path, os.W_OK):
            raise StoreError(f"{self.path} was written by an older graphcrawl and lacks columns "
                             f"({', '.join(f'{t}.{c}' for t, c, _ in missing[:4])}...); open it once "
                             "with write access (any `graphcrawl report` does it) to upgrade it")
        for table, col, typ in missing:
            self.db[table].add_column(col, typ)

    def _create(self) -> None:
        for name, (columns, pk) in TABLES.items():
            table = self.db[name]
            if not table.exists():
                table.create(columns, pk=pk)
            else:
                have = set(table.columns_dict)
                for col, typ in columns.items():
                    if col not in have:
                        table.add_column(col, typ)
        for table, cols in INDEXES:
            self.db[table].create_index(cols, if_not_exists=True)
        self.db["meta"].upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")

    def lock_for_writing(self) -> None:
        """Take the single-writer lock; a second crawl on this database is refused."""
        lock_path = str(self.path) + ".lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = Path(lock_path).read_text().strip() or "another process"
            raise StoreLocked(
                f"{self.path} is in use by a running crawl ({holder}); "
                "wait for it to finish or use another --db") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._lock_fd = fd

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self.db.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # -- repos -------------------------------------------------------------
    def upsert_repo(self, repo: dict[str, Any]) -> None:
        """Insert or update a repo, keeping fields already recorded that `repo` lacks."""
        row = dict(repo)
        if "topics" in row and not isinstance(row["topics"], (str, type(None))):
            row["topics"] = _json(row["topics"])
        row.setdefault("discovered_at", now())
        existing = self.repo(row["id"])
        if existing:
            row.pop("discovered_at", None)
            if existing.get("status") and row.get("status") == "discovered":
                row.pop("status")
            self.db["repos"].update(row["id"], row)
        else:
            row.setdefault("status", "discovered")
            self.db["repos"].insert(row, pk="id")

    def repo(self, repo_id: str) -> dict[str, Any] | None:
        rows = list(self.db["repos"].rows_where("id = ?", [repo_id]))
        return rows[0] if rows else None

    def repos(self, where: str | None = None, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return list(self.db["repos"].rows_where(where, list(params), order_by="stars desc, id"))

    def set_repo_status(self, repo_id: str, status: str, **fields: Any) -> None:
        self.db["repos"].update(repo_id, {"status": status, **fields})

    # -- modules and cases -------------------------------------------------
    def replace_modules(self, repo_id: str, sha: str, modules: list[dict[str, Any]]) -> None:
        """Record the scan of one checkout; one case row per module, spec unknown yet."""
        with self.db.conn:
            self.db.execute("BEGIN")
            for m in modules:
                row = {
                    "id": module_id(repo_id, sha, m["path"], m["qualname"]),
                    "repo_id": repo_id, "sha": sha, "path": m["path"],
                    "qualname": m["qualname"], "line": m.get("line"),
                    "bases": _json(m.get("bases")),
                    "init_params": _json(m.get("init_params")),
                    "forward_params": _json(m.get("forward_params")),
                }
                self.db["modules"].upsert(row, pk="id")
                self.db["cases"].insert({
                    "id": row["id"], "module_id": row["id"], "repo_id": repo_id,
                    "created_at": now(),
                }, pk="id", ignore=True)
            self.db["repos"].update(repo_id, {
                "status": "scanned" if modules else "no_modules",
                "module_count": len(modules), "scanned_at": now(), "sha": sha,
            })
            self.db.execute("COMMIT")

    def modules(self, repo_id: str | None = None) -> list[dict[str, Any]]:
        if repo_id is None:
            return list(self.db["modules"].rows_where(order_by="id"))
        return list(self.db["modules"].rows_where("repo_id = ?", [repo_id], order_by="id"))

    def case(self, case_id: str) -> dict[str, Any] | None:
        rows = list(self.db["cases"].rows_where("id = ?", [case_id]))
        return rows[0] if rows else None

    def pending_cases(self, run_id: str, repo_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Cases of scanned modules with no result yet in `run_id` (resume point)."""
        sql = """
            select c.*, m.path, m.qualname, m.sha, m.line, r.checkout_path
            from cases c join modules m on m.id = c.module_id
            join repos r on r.id = c.repo_id and r.sha = m.sha
            where not exists (select 1 from results x where x.run_id = ? and x.case_id = c.id)
        """
        params: list[Any] = [run_id]
        if repo_ids is not None:
            sql += f" and c.repo_id in ({','.join('?' * len(repo_ids))})"
            params += repo_ids
        sql += " order by c.repo_id, m.path, m.line, c.id"
        return [dict(r) for r in self.db.query(sql, params)]

    def repos_with_pending(self, run_id: str) -> set[str]:
        """Ids of repos with at least one case left to run in `run_id` (one query, not one per repo)."""
        return {r[0] for r in self.db.execute("""
            select distinct c.repo_id from cases c join modules m on m.id = c.module_id
            join repos r on r.id = c.repo_id and r.sha = m.sha
            where not exists (select 1 from results x where x.run_id = ? and x.case_id = c.id)""", [run_id])}

    def set_case_spec(self, case_id: str, spec: dict[str, Any], found_by: Any, stubs: Any, run_id: str) -> None:
        """Store the args and inputs that made a case run; a stored spec is never overwritten."""
        self.db.execute(
            "update cases set spec = ?, found_by = ?, stubs = ?, created_run = ? "
            "where id = ? and spec is null",
            [_json(spec), _json(found_by), _json(stubs), run_id, case_id])

    # -- runs and results ---------------------------------------------------
    def start_run(self, run: dict[str, Any]) -> dict[str, Any]:
        """Create a run, or return the stored one of the same name (resume)."""
        existing = self.run(run["id"])
        if existing:
            self.db["runs"].update(run["id"], {"ended_at": None})
            return existing
        row = dict(run)
        row["config"] = _json(row.get("config"))
        row.setdefault("started_at", now())
        self.db["runs"].insert(row, pk="id")
        return self.run(run["id"])  # type: ignore[return-value]

    def set_run_executor(self, run_id: str, executor: str, nodes: list[dict[str, Any]]) -> None:
        """Record where a run ran: the executor and every node seen (kept across resumes)."""
        run = self.run(run_id) or {}
        known = json.loads(run["nodes"]) if run.get("nodes") else []
        key = lambda n: (n.get("node_id"), n.get("host"))  # noqa: E731
        seen = {key(n) for n in known}
        known += [n for n in nodes if key(n) not in seen]
        self.db["runs"].update(run_id, {"executor": executor, "nodes": _json(known)})

    def end_run(self, run_id: str) -> None:
        self.db["runs"].update(run_id, {"ended_at": now()})

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = list(self.db["runs"].rows_where("id = ?", [run_id]))
        return rows[0] if rows else None

    def runs(self) -> list[dict[str, Any]]:
        return list(self.db["runs"].rows_where(order_by="started_at"))

    def latest_run_id(self) -> str | None:
        row = self.db.execute(
            "select id from runs order by started_at desc, rowid desc limit 1").fetchone()
        return row[0] if row else None

    def record_result(self, result: dict[str, Any]) -> bool:
        """Write one finished case; returns False if (run, case) was already recorded."""
        row = {k: (_json(v) if isinstance(v, (list, dict)) else v) for k, v in result.items()}
        for key in ("nondeterministic", "rng_dependent", "flaky", "dynamic_specialized"):
            if isinstance(row.get(key), bool):
                row[key] = int(row[key])
        row.setdefault("finished_at", now())
        known = set(TABLES["results"][0])
        row = {k: v for k, v in row.items() if k in known}
        cur = self.db.execute(
            f"insert or ignore into results ({','.join(row)}) values ({','.join('?' * len(row))})",
            list(row.values()))
        return cur.rowcount == 1

    def results(self, run_id: str) -> Iterator[dict[str, Any]]:
        return self.db["results"].rows_where("run_id = ?", [run_id], order_by="case_id")

    def result_counts(self, run_id: str) -> dict[str, int]:
        return {s: n for s, n in self.db.execute(
            "select status, count(*) from results where run_id = ? group by status", [run_id])}

    # -- discovery slices (crawler/discover.py) -------------------------------
    # One row per GitHub search query of a discovery: its total, pages fetched,
    # state (partial | done | split) and the repo ids it yielded, so a killed
    # discovery resumes without fetching a finished slice again. The columns
    # beyond the declared schema (discovery, state, parent, stars_lo, stars_hi,
    # created_lo, created_hi, split_at, repo_ids) are added on first write.
    def discovery_slices(self, discovery: str) -> list[dict[str, Any]]:
        """The stored slices of one discovery (same query, star floor and size cap)."""
        table = self.db["discovery_slices"]
        if "discovery" not in table.columns_dict:
            return []
        rows = []
        for row in table.rows_where("discovery = ?", [discovery], order_by="rowid"):
            row["repo_ids"] = json.loads(row["repo_ids"]) if row.get("repo_ids") else []
            rows.append(row)
        return rows

    DISCOVERY_SLICE_COLUMNS = {
        "discovery": str, "state": str, "parent": str, "stars_lo": int, "stars_hi": int,
        "created_lo": int, "created_hi": int, "split_at": int, "repo_ids": str,
    }

    def save_discovery_slice(self, row: dict[str, Any]) -> None:
        table = self.db["discovery_slices"]
        have = set(table.columns_dict)
        for col, typ in self.DISCOVERY_SLICE_COLUMNS.items():
            if col not in have:  # typed here, not guessed from a first value that may be NULL
                table.add_column(col, typ)
        record = dict(row, repo_ids=_json(list(row.get("repo_ids") or [])), updated_at=now())
        table.upsert(record, pk="id", alter=True)

    def record_discovery_page(self, row: dict[str, Any], repos: list[dict[str, Any]]) -> None:
        """A fetched page: its repos first, then the slice's progress.

        In that order, a kill between the two only means the page is fetched
        again on resume (upserts are idempotent); never a page counted as done
        whose repos are missing.
        """
        known = self.repos_by_ids([r["id"] for r in repos])
        fresh = []
        for repo in repos:
            if repo["id"] in known:
                self.upsert_repo(repo)
            else:  # what upsert_repo does for a new repo, in one statement per page
                fresh.append(dict(repo, topics=repo["topics"] if isinstance(repo.get("topics"), (str, type(None)))
                                  else _json(repo["topics"]), discovered_at=repo.get("discovered_at") or now(),
                                  status=repo.get("status") or "discovered"))
        if fresh:
            self.db["repos"].insert_all(fresh, pk="id")
        self.save_discovery_slice(row)

    def repos_by_ids(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The stored rows of these repos, by id (a discovery reads thousands at once)."""
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for row in self.db["repos"].rows_where(f"id in ({','.join('?' * len(chunk))})", chunk):
                out[row["id"]] = row
        return out


def module_id(repo_id: str, sha: str, path: str, qualname: str) -> str:
    """A module's identity: checkout + file + class qualname, never a position."""
    return f"{repo_id}@{sha[:12]}:{path}:{qualname}"
