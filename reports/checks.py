"""Report sections for where a case's time goes and for the training / dynamic-shape checks.

- Where the time goes: each result's `stage_s` (seconds per step of the case
  engine, capture/checks/steps.py) as a share of the total worker wall (`wall_s`),
  over all cases and over passing cases; what no step accounts for is "other"
  (fork, sandbox, result transfer).
- Checks: the inference, training (`-training`) and dynamic (`-dynamic`) runs
  of the same configuration side by side: the same cases, three checks.
- Recompiles (dynamic runs): recompiles per case, the guard failures torch
  gave for them (normalized), dynamic=True's outcome, sizes eager rejected.
- Training (training runs): backward graphs per case, backward compile time.
- Export (export runs, `-export`): each door's pass rate from `export_steps`
  (non-strict, strict, serialization, dynamic batch, AOTInductor), the failure
  classes and torch frames, and the cases torch.compile captures in the
  configuration's inference run that export cannot.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

from db.status import ABNORMAL, ran_in_eager
from reports.scope import Scope
from reports.signature import normalize_message
from reports.stats import quantile

_ABNORMAL = frozenset(s.value for s in ABNORMAL)
CHECK_SUFFIXES = {"training": "-training", "dynamic": "-dynamic", "eager": "-eager", "export": "-export"}
# export_steps keys, shown as checks of their own beside inference, training and dynamic
EXPORT_DOORS = (("nonstrict", "export non-strict"), ("strict", "export strict"), ("serialize", "serialization"),
                ("dynamic", "export dynamic batch"), ("aoti", "AOTInductor"))


def _rows(scope: Scope, columns: str) -> list[tuple]:
    where, params = scope.base_where()
    return list(scope.conn.execute(f"select {columns} from results x where {where}", params))


def time_shares(scope: Scope) -> dict[str, Any]:
    """Share of the total worker wall spent in each stage, over all cases and over passing ones."""
    out: dict[str, Any] = {}
    acc = {"all": (Counter(), [0.0, 0]), "pass": (Counter(), [0.0, 0])}
    for status, stage, stage_s, wall in _rows(scope, "x.status, x.stage, x.stage_s, x.wall_s"):
        if wall is None:
            continue
        try:
            stages = json.loads(stage_s) if stage_s else {}
        except ValueError:
            stages = {}
        if not stages:  # a killed case reports no stage times: its wall goes to the stage it died in
            stages = {(f"{stage} ({status})" if status in _ABNORMAL else "not recorded"): float(wall)}
        for key in ("all", "pass") if status == "pass" else ("all",):
            seconds, total = acc[key]
            for name, s in stages.items():
                seconds[name] += float(s or 0)
            seconds["other"] += max(0.0, float(wall) - sum(float(s or 0) for s in stages.values()))
            total[0] += float(wall)
            total[1] += 1
    for key, (seconds, (wall, n)) in acc.items():
        out[key] = {"cases": n, "wall_s": round(wall, 3), "stages": [
            {"stage": name, "seconds": round(s, 3), "share": (s / wall if wall else 0.0)}
            for name, s in seconds.most_common()]}
    return out


COMPILE_PHASES = ("dynamo", "aot_autograd", "inductor", "cxx_build")


def compile_phases(scope: Scope) -> dict[str, Any] | None:
    """Where compile time goes across the run, by torch's own compile-time metrics
    (results.compile_phases): seconds per layer, split by Inductor cache hit and miss."""
    if scope.col("compile_phases") == "null":
        return None
    out: dict[str, Any] = {}
    for cache, phases, compile_s in _rows(scope, "x.compile_cache, x.compile_phases, x.compile_s"):
        try:
            split = json.loads(phases) if phases else None
        except ValueError:
            split = None
        if not split or compile_s is None:
            continue
        key = cache if cache in ("hit", "miss") else "other"
        acc = out.setdefault(key, {"cases": 0, "compile_s": 0.0, **{p: 0.0 for p in COMPILE_PHASES}})
        acc["cases"] += 1
        acc["compile_s"] += float(compile_s)
        for p in COMPILE_PHASES:
            acc[p] += float(split.get(p) or 0.0)
    for acc in out.values():
        acc["rest"] = max(0.0, acc["compile_s"] - sum(acc[p] for p in COMPILE_PHASES))  # first-call run, glue
        for k in ("compile_s", "rest", *COMPILE_PHASES):
            acc[k] = round(acc[k], 3)
    return out or None


def base_run(run_id: str) -> str:
    for suffix in CHECK_SUFFIXES.values():
        if run_id.endswith(suffix):
            return run_id[: -len(suffix)]
    return run_id


def check_rates(scope: Scope) -> list[dict[str, Any]]:
    """Pass rates of the inference, training and dynamic runs of this run's configuration."""
    base = base_run(scope.run_id)
    out = []
    for check, run_id in (("inference", base), *((c, base + s) for c, s in CHECK_SUFFIXES.items())):
        if scope.conn.execute("select 1 from runs where id = ?", [run_id]).fetchone() is None:
            continue
        sql = "select status, stage, count(*) from results where run_id = ?"
        params: list[Any] = [run_id]
        if scope.project is not None:
            sql += " and repo_id = ?"
            params.append(scope.project)
        total = ran = passed = 0
        for status, stage, n in scope.conn.execute(sql + " group by status, stage", params):
            total += n
            ran += n if ran_in_eager(status, stage) else 0
            passed += n if status == "pass" else 0
        if check == "eager":  # nothing was compiled: no pass rate, the table says "eager only"
            out.append({"check": check, "run": run_id, "cases": total, "runnable": ran, "passed": None,
                        "pct_of_runnable": None, "pct_of_all": None})
            continue
        out.append(_rate_row(check if check != "export" else "export (every step)", run_id, total, ran, passed))
        if check == "export":
            out += export_doors(scope, run_id)
    return out


def _rate_row(check: str, run_id: str, total: int, ran: int, passed: int) -> dict[str, Any]:
    return {"check": check, "run": run_id, "cases": total, "runnable": ran, "passed": passed,
            "pct_of_runnable": 100.0 * passed / ran if ran else None,
            "pct_of_all": 100.0 * passed / total if total else None}


def _steps(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _export_rows(scope: Scope, run_id: str) -> list[tuple]:
    sql = (f"select case_id, status, stage, {scope.col('export_steps')}, {scope.col('dynamic_specialized')}, "
           "error_frame from results x where run_id = ?")
    params: list[Any] = [run_id]
    if scope.project is not None:
        sql += " and repo_id = ?"
        params.append(scope.project)
    return list(scope.conn.execute(sql, params))


def export_doors(scope: Scope, run_id: str) -> list[dict[str, Any]]:
    """Each export door's pass rate over the export run's runnable cases (a door a case never
    reached, because export failed or the case timed out before it, is not a pass)."""
    rows = _export_rows(scope, run_id)
    total = len(rows)
    runnable = [r for r in rows if ran_in_eager(r[1], r[2])]
    out = []
    for key, label in EXPORT_DOORS:
        passed = sum(1 for r in runnable if _steps(r[3]).get(key, {}).get("ok") is True)
        out.append(_rate_row(label, run_id, total, len(runnable), passed))
    return out


def _captured(status: str, stage: str | None) -> bool:
    """torch.compile captured the forward (a graph, breaks allowed) in an inference run."""
    return ran_in_eager(status, stage) and status != "capture_failed" and stage != "capture"


def export_section(scope: Scope, top: int | None = 15) -> dict[str, Any] | None:
    """Export runs: failure classes (non-strict and strict), their top torch frames, what
    torch.compile captures that export cannot, and the dynamic batch's specialisations."""
    if (scope.run().get("check") or "") != "export":
        return None
    rows = _export_rows(scope, scope.run_id)
    runnable = [r for r in rows if ran_in_eager(r[1], r[2])]
    classes: dict[str, Counter] = {"nonstrict": Counter(), "strict": Counter()}
    frames: Counter = Counter()
    for _, _, _, steps, _, _ in runnable:
        st = _steps(steps)
        for door in classes:
            if st.get(door, {}).get("ok") is False:
                classes[door][st[door].get("class") or "other"] += 1
        if st.get("nonstrict", {}).get("ok") is False:
            frames[(st["nonstrict"].get("class") or "other", st["nonstrict"].get("frame") or "-")] += 1
    by_stage = Counter(r[2] for r in runnable if r[1] != "pass")
    base = base_run(scope.run_id)
    gap: dict[str, Any] = {"inference_run": None}
    if scope.conn.execute("select 1 from runs where id = ?", [base]).fetchone() is not None and base != scope.run_id:
        inference = {cid: (st, sg) for cid, st, sg in scope.conn.execute(
            "select case_id, status, stage from results where run_id = ?", [base])}
        both = [r for r in runnable if r[0] in inference and ran_in_eager(*inference[r[0]])]
        captured = [r for r in both if _captured(*inference[r[0]])]
        missed = [r for r in captured if _steps(r[3]).get("nonstrict", {}).get("ok") is not True]
        why = Counter(_steps(r[3]).get("nonstrict", {}).get("class") or
                      (f"{r[1]} at {r[2]}" if not _steps(r[3]).get("nonstrict") else "other") for r in missed)
        gap = {"inference_run": base, "runnable_in_both": len(both), "compile_captures": len(captured),
               "export_cannot": len(missed), "pct_of_runnable": 100.0 * len(missed) / len(both) if both else None,
               "classes": [{"class": k, "count": n} for k, n in why.most_common()]}
    ranked = frames.most_common()
    return {
        "cases": len(rows), "runnable": len(runnable),
        "classes": {door: [{"class": k, "count": n} for k, n in c.most_common()] for door, c in classes.items()},
        "frames": [{"class": k, "frame": f, "count": n} for (k, f), n in (ranked if top is None else ranked[:top])],
        "failed_stages": [{"stage": k, "count": n} for k, n in by_stage.most_common()],
        "dynamic_specialized": sum(1 for r in runnable if r[4]),
        "compile_vs_export": gap,
    }


def recompiles(scope: Scope, top: int | None = 15) -> dict[str, Any] | None:
    """Dynamic-shape runs: recompiles per case, top guard-failure reasons, dynamic=True outcomes."""
    rows = _rows(scope, "x.recompiles, x.recompile_reasons, x.dynamic_true, x.sizes_tried, x.sizes_rejected")
    rows = [r for r in rows if r[3] is not None]
    if not rows:
        return None
    buckets = Counter(min(int(r[0] or 0), 5) for r in rows)
    reasons: dict[str, dict[str, Any]] = {}
    for r in rows:
        seen = set()
        for raw in json.loads(r[1]) if r[1] else []:
            norm = normalize_message(_strip_frame(raw)) or raw
            item = reasons.setdefault(norm, {"reason": norm, "example": raw, "recompiles": 0, "cases": 0})
            item["recompiles"] += 1
            if norm not in seen:
                item["cases"] += 1
                seen.add(norm)
    ranked = sorted(reasons.values(), key=lambda d: (-d["cases"], -d["recompiles"], d["reason"]))
    dyn_true = Counter(r[2] or "not run" for r in rows)
    return {
        "cases": len(rows),
        "buckets": [{"recompiles": f"{b}+" if b == 5 else str(b), "count": buckets[b]} for b in sorted(buckets)],
        "reasons": ranked if top is None else ranked[:top],
        "dynamic_true": [{"outcome": k, "count": n} for k, n in dyn_true.most_common()],
        "sizes_tried": sum(int(r[3] or 0) for r in rows), "sizes_rejected": sum(int(r[4] or 0) for r in rows),
    }


def _strip_frame(reason: str) -> str:
    """'0/1: tensor 'x' size mismatch ...' -> the guard text without its frame/compile id."""
    head, sep, rest = reason.partition(": ")
    return rest if sep and "/" in head and head.replace("/", "").isdigit() else reason


def training(scope: Scope) -> dict[str, Any] | None:
    """Training runs: backward graphs per case and backward compile time."""
    rows = [r for r in _rows(scope, "x.backward_graphs, x.backward_compile_s, x.status") if r[0] is not None]
    if not rows:
        return None
    graphs = Counter(min(int(r[0]), 5) for r in rows)
    times = sorted(float(r[1]) for r in rows if r[1] is not None)
    return {"cases": len(rows),
            "backward_graphs": [{"graphs": f"{g}+" if g == 5 else str(g), "count": graphs[g]} for g in sorted(graphs)],
            "backward_compile_s": {"n": len(times), "median": quantile(times, 0.5) if times else None,
                                   "p90": quantile(times, 0.9) if times else None}}
