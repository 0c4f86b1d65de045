"""Where a case's torch trace lives next to the database: <db>.traces/<run>/<case>.log.

Why files and not a column: a structured trace is up to a few MB of text that
only `triage show` and tlparse read; the results table stays small enough to
scan, and the files can be deleted without touching the data. The path is
stored relative to the database's directory (results.trace_path), so moving
the database together with its .traces directory keeps them linked.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

LOGS_SUFFIX = ".compile_logs.txt"


def traces_root(db_path: str | Path) -> Path:
    db = Path(db_path)
    return db.with_name(db.name + ".traces")


def _safe(text: str, keep: int) -> str:
    """A file name for an id: readable tail, plus a hash so two ids never share a file."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[-keep:] or "x"
    return f"{clean}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def trace_file(db_path: str | Path, run_id: str, case_id: str) -> Path:
    return traces_root(db_path) / _safe(run_id, 60) / (_safe(case_id, 100) + ".log")


def save_trace(db_path: str | Path, run_id: str, case_id: str, result: dict[str, Any]) -> str | None:
    """Write the trace a worker carried back in `result["trace"]` (removed from it);
    returns the path relative to the database's directory, or None when there is none."""
    data = result.pop("trace", None)
    if not isinstance(data, dict) or not (data.get("trace") or data.get("logs")):
        return None
    db = Path(db_path).resolve()
    path = trace_file(db, run_id, case_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data.get("trace") or "", encoding="utf-8")
    if data.get("logs"):
        path.with_name(path.stem + LOGS_SUFFIX).write_text(data["logs"], encoding="utf-8")
    return str(path.relative_to(db.parent))


def resolve(db_path: str | Path, trace_path: str | None) -> tuple[Path | None, Path | None]:
    """(trace file, compile-log file) of a stored trace_path; None for what does not exist."""
    if not trace_path:
        return None, None
    path = Path(trace_path)
    if not path.is_absolute():
        path = Path(db_path).resolve().parent / path
    logs = path.with_name(path.stem + LOGS_SUFFIX)
    return (path if path.exists() else None), (logs if logs.exists() else None)
