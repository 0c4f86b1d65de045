"""Collect a case's torch structured trace and compile logs from its scratch dir.

Why here: the sandboxed child can only write its scratch directory, which is
deleted after the case; the worker reads what the child wrote there (even
when the child crashed or was killed, since torch writes the trace line by
line) and carries it back inside the result as plain text, and the driver
stores it next to the database (db/traces.py). Only compiler failures keep
theirs: a harness failure compiled nothing worth reading.
"""
from __future__ import annotations

import os
from typing import Any

from db.status import FailureKind, failure_kind

TRACE_DIR = "torch_trace"          # under the case's scratch dir
LOG_FILE = "compile_logs.txt"      # graph-break and recompile logs
MAX_TRACE_BYTES = 4 * 1024 * 1024  # per case
MAX_LOG_BYTES = 256 * 1024


def paths(scratch: str) -> tuple[str, str]:
    """(trace directory, log file) for a case's scratch directory."""
    return os.path.join(scratch, TRACE_DIR), os.path.join(scratch, LOG_FILE)


def cap_records(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to at most `limit` characters by dropping whole records from the middle.

    A structured-trace record is a line that does not start with a tab plus the
    tab-indented payload lines after it; the head (interned file names, the
    first frames) and the tail (where a failing compile ends) are both kept,
    so tlparse can still read what is left. Returns (text, truncated).
    """
    if len(text) <= limit:
        return text, False
    records: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("\t") and records:
            records[-1] += line
        else:
            records.append(line)
    head_budget, tail_budget = limit // 4, limit - limit // 4
    head: list[str] = []
    size = 0
    for rec in records:
        if size + len(rec) > head_budget:
            break
        head.append(rec)
        size += len(rec)
    tail: list[str] = []
    size = 0
    for rec in reversed(records[len(head):]):
        if size + len(rec) > tail_budget:
            break
        tail.append(rec)
        size += len(rec)
    return "".join(head) + "".join(reversed(tail)), True


def _read(path: str, limit: int) -> tuple[str, bool]:
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        text = fh.read(limit * 4 + 1)   # a file past 4x the cap is cut first, then capped by records
    return cap_records(text, limit)


def collect(scratch: str, result: dict[str, Any]) -> None:
    """Attach the trace (`result["trace"]`) of a compiler failure; nothing for other results."""
    if failure_kind(str(result.get("status")), result.get("stage"), result.get("reason")) \
            != FailureKind.COMPILER.value:
        return
    trace_dir, log_file = paths(scratch)
    try:
        names = sorted(n for n in os.listdir(trace_dir) if n.endswith(".log"))
    except OSError:
        names = []
    parts = []
    truncated = False
    for name in names:
        text, cut = _read(os.path.join(trace_dir, name), MAX_TRACE_BYTES)
        parts.append(text)
        truncated |= cut
    trace, cut = cap_records("".join(parts), MAX_TRACE_BYTES)
    logs, logs_cut = ("", False)
    if os.path.exists(log_file):
        logs, logs_cut = _read(log_file, MAX_LOG_BYTES)
    if trace or logs:
        result["trace"] = {"trace": trace, "logs": logs, "truncated": truncated or cut or logs_cut}
