"""Confirm a compiler failure before it is recorded: once more, in a fresh child.

Why: a verdict that a rerun does not repeat is machine load or luck (a race,
uninitialised memory, a cache state), not a compiler bug a developer can act
on, and `report --compare` must not call it a regression. Every failure that
db/status.py's `failure_kind` gives to the compiler is run again in a new
forked child (so a fresh Dynamo state), with the spec the first run found.
If the rerun fails the same way (status, stage, error type) the failure is
confirmed; if it passes or fails differently the case is `flaky`: the first
outcome stays the recorded one, the rerun's is kept beside it, and reports
count the case apart.
"""
from __future__ import annotations

from typing import Any, Callable

from db.status import failure_kind

RERUN_FIELDS = ("status", "stage", "error_type", "error_msg", "reason", "max_abs_err", "case_cpu_s", "wall_s")


def needs_confirmation(req: dict[str, Any], result: dict[str, Any]) -> bool:
    """A compiler failure of a request that asked for confirmation (the default)."""
    if not req.get("confirm", True) or req.get("stop_after"):
        return False
    return failure_kind(result.get("status", ""), result.get("stage"), result.get("reason")) == "compiler"


def outcome(result: dict[str, Any]) -> tuple[Any, Any, Any]:
    """What must repeat for a failure to be confirmed."""
    return result.get("status"), result.get("stage"), result.get("error_type")


def confirm(req: dict[str, Any], first: dict[str, Any],
            run: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Run the case again with `run` (a fresh child) and mark the first result flaky or confirmed."""
    again_req = dict(req, spec=req.get("spec") or first.get("spec"), stubs=first.get("stubs") or req.get("stubs"))
    again = run(again_req)
    first["rerun"] = {k: again.get(k) for k in RERUN_FIELDS if again.get(k) is not None}
    first["rerun"]["error_msg"] = (first["rerun"].get("error_msg") or "")[:500] or None
    first["rerun_s"] = again.get("wall_s")
    first["flaky"] = int(outcome(again) != outcome(first))
    return first
