"""The most common graph-break reasons and graph-break ids of a run.

Why normalized: a break reason names the variable or file it happened at;
grouping by the raw text would list one "reason" per project; texts that
differ only in masked parts (numbers, names, paths) are merged.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from reports.scope import Scope
from reports.signature import normalize_message


@dataclass
class BreakReason:
    reason: str            # normalized text
    example: str           # one raw text, for reading
    breaks: int            # occurrences
    cases: int             # cases with at least one
    ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def top_break_reasons(scope: Scope, limit: int | None = 15) -> list[BreakReason]:
    """Break reasons by number of cases they occur in (then occurrences).

    Results are counted by their (reasons, ids) lists, which repeat a lot;
    each distinct pair of lists is parsed and normalized once.
    """
    lists = _break_lists(scope)
    merged: dict[str, BreakReason] = {}
    ids: dict[str, set[str]] = {}
    keys = list(lists)
    parsed_reasons = json_lists([k[0] for k in keys])
    parsed_ids = json_lists([k[1] for k in keys])
    for key, reasons, bids in zip(keys, parsed_reasons, parsed_ids):
        n = lists[key]
        seen: set[str] = set()
        for i, raw in enumerate(reasons):
            raw = str(raw)
            norm = normalize_message(raw) or raw
            item = merged.get(norm)
            if item is None:
                item = merged[norm] = BreakReason(reason=norm, example=raw, breaks=0, cases=0)
                ids[norm] = set()
            item.breaks += n
            if norm not in seen:
                item.cases += n
                seen.add(norm)
            if i < len(bids) and bids[i]:
                ids[norm].add(str(bids[i]))
    for norm, item in merged.items():
        item.ids = sorted(ids[norm])
    ranked = sorted(merged.values(), key=lambda b: (-b.cases, -b.breaks, b.reason))
    return ranked if limit is None else ranked[:limit]


def _break_lists(scope: Scope) -> Counter:
    if "break_lists" not in scope._cache:
        scope._cache["break_lists"] = Counter(
            (r.break_reasons, r.break_ids) for r in scope.rows() if r.break_reasons or r.break_ids)
    return scope._cache["break_lists"]


def json_lists(texts: list[str | None]) -> list[list[Any]]:
    """Parse many JSON list texts with one json.loads call (per-call overhead dominates
    for thousands of short lists); a malformed text yields an empty list."""
    clean = [t if t and t.startswith("[") else "[]" for t in texts]
    try:
        parsed = json.loads("[" + ",".join(clean) + "]")
    except ValueError:
        parsed = []
        for t in clean:
            try:
                parsed.append(json.loads(t))
            except ValueError:
                parsed.append([])
    return [p if isinstance(p, list) else [] for p in parsed]


def top_break_ids(scope: Scope, limit: int | None = 15) -> list[dict[str, Any]]:
    """torch's stable graph-break ids (e.g. GB0124) by cases affected."""
    lists = _break_lists(scope)
    keys = list(lists)
    breaks: Counter = Counter()
    cases: Counter = Counter()
    for key, bids in zip(keys, json_lists([k[1] for k in keys])):
        n = lists[key]
        present = [str(b) for b in bids if b]
        for b in present:
            breaks[b] += n
        for b in set(present):
            cases[b] += n
    ranked = sorted(cases, key=lambda b: (-cases[b], -breaks[b], b))
    out = [{"id": b, "breaks": breaks[b], "cases": cases[b]} for b in ranked]
    return out if limit is None else out[:limit]


@dataclass
class BreakGroup:
    """One graph break, as a compiler engineer fixes it: torch's id and the normalized reason,
    with how many cases hit it, how many of those still pass, and examples to reproduce."""

    id: str                    # torch's graph-break id (GBxxxx), "" when torch gave none
    reason: str                # normalized reason text
    example_reason: str        # one raw text
    cases: int
    breaks: int
    projects: int
    passing: int               # cases with this break whose status is pass
    statuses: dict[str, int]
    examples: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def break_groups(scope: Scope, limit: int | None = None, examples: int = 3) -> list[BreakGroup]:
    """Every graph break of the scope by (break id, normalized reason), across passing and
    failing cases alike (a case can pass with breaks), most cases first."""
    where, params = scope.base_where()
    rows = scope.conn.execute(
        f"select x.case_id, x.repo_id, x.status, x.break_reasons, x.break_ids from results x where {where} "
        "and (x.break_reasons is not null and x.break_reasons != '[]') order by x.case_id", params).fetchall()
    reasons_l = json_lists([r[3] for r in rows])
    ids_l = json_lists([r[4] for r in rows])
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for (case_id, repo, status, _, _), reasons, ids in zip(rows, reasons_l, ids_l):
        seen: set[tuple[str, str]] = set()
        for i, raw in enumerate(reasons):
            raw = str(raw)
            key = (str(ids[i]) if i < len(ids) and ids[i] else "", normalize_message(raw) or raw)
            g = acc.setdefault(key, {"raw": raw, "breaks": 0, "members": []})
            g["breaks"] += 1
            if key not in seen:
                seen.add(key)
                g["members"].append((case_id, repo, status))
    out = []
    for (bid, reason), g in acc.items():
        members = g["members"]
        statuses = Counter(s for _, _, s in members)
        picked: list[str] = []
        projects_seen: set[str] = set()
        for case_id, repo, _ in members:              # distinct projects first, as triage does
            if repo not in projects_seen and len(picked) < examples:
                picked.append(case_id)
                projects_seen.add(repo)
        for case_id, _, _ in members:
            if len(picked) >= examples:
                break
            if case_id not in picked:
                picked.append(case_id)
        out.append(BreakGroup(id=bid, reason=reason, example_reason=g["raw"], cases=len(members),
                              breaks=g["breaks"], projects=len({r for _, r, _ in members}),
                              passing=statuses.get("pass", 0), statuses=dict(sorted(statuses.items())),
                              examples=picked))
    out.sort(key=lambda b: (-b.cases, -b.projects, b.id, b.reason))
    return out if limit is None else out[:limit]
