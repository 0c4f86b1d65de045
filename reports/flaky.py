"""Confirmation of compiler failures: how many were rerun, how many held, which were flaky.

Why a section: a compiler failure is rerun once in a fresh process before it
is recorded (capture/workers/confirm.py); the report says what that cost and
how many verdicts it took out of the compiler's list, so a reader sees both
the confirmed failures and the ones machine load or luck made.
"""
from __future__ import annotations

import json
from typing import Any

from reports.scope import Scope


def confirmation(scope: Scope, limit: int | None = 20) -> dict[str, Any] | None:
    """Reruns, confirmed and flaky counts, rerun seconds, and the flaky cases with both outcomes;
    None for a database made before reruns existed."""
    if scope.col("rerun") == "null":
        return None
    where, params = scope.base_where()
    rows = scope.query(
        "select x.case_id, x.repo_id, x.status, x.stage, x.error_type, x.flaky, x.rerun, x.rerun_s "
        f"from results x where {where} and x.rerun is not null order by x.case_id", params)
    flaky = []
    for r in rows:
        if not r["flaky"]:
            continue
        try:
            again = json.loads(r["rerun"] or "{}")
        except ValueError:
            again = {}
        flaky.append({"case_id": r["case_id"], "project": r["repo_id"],
                      "first": f"{r['status']} @ {r['stage']}: {r['error_type'] or ''}".rstrip(": "),
                      "rerun": f"{again.get('status')} @ {again.get('stage')}: {again.get('error_type') or ''}"
                               .rstrip(": ")})
    return {"reruns": len(rows), "confirmed": len(rows) - len(flaky), "flaky": len(flaky),
            "rerun_s": round(sum(r["rerun_s"] or 0.0 for r in rows), 1),
            "flaky_cases": flaky if limit is None else flaky[:limit]}


def flaky_by_status(scope: Scope) -> dict[tuple[str, str | None], int]:
    """Flaky results per (status, stage) as the case funnel keys them (stage only for
    timeout/crash/oom): what failure_split moves from compiler to flaky."""
    if scope.col("flaky") == "null":
        return {}
    from db.status import ABNORMAL
    abnormal = {s.value for s in ABNORMAL}
    where, params = scope.base_where()
    out: dict[tuple[str, str | None], int] = {}
    for status, stage, n in scope.query(f"select x.status, x.stage, count(*) from results x where {where} "
                                        "and x.flaky = 1 group by x.status, x.stage", params):
        key = (status, stage if status in abnormal else None)   # the case funnel splits only those by stage
        out[key] = out.get(key, 0) + n
    return out
