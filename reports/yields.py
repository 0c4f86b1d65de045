"""Where the cases come from and what stops modules from loading.

Why: the input-deduction rules and the import stubbing decide how many
scanned modules become cases at all. Counting cases per rule shows which
rules earn their keep; the top missing packages show which dependency, if
installed (or stubbed), would unlock the most modules.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

from db.status import RAN_IN_EAGER, CaseStatus
from reports.breaks import json_lists
from reports.scope import Scope

_NO_MODULE = re.compile(r"No module named ['\"]?([\w.]+)")
_IMPORT_FAILED = CaseStatus.IMPORT_FAILED.value
_PASS = CaseStatus.PASS.value
_RAN = frozenset(s.value for s in RAN_IN_EAGER)


def _per_item(groups: Counter, limit: int | None, key: str) -> list[dict[str, Any]]:
    """Expand counts of (JSON list text, project, passed) into per-item counts.

    There are few distinct lists (rule combinations, stub sets): each is
    parsed once, and an item repeated within one list is counted once.
    """
    cases: Counter = Counter()
    passed: Counter = Counter()
    projects: dict[str, set[str]] = {}
    keys = list(groups)
    for (text, repo, ok), items in zip(keys, json_lists([k[0] for k in keys])):
        n = groups[(text, repo, ok)]
        for item in {str(i) for i in items}:
            cases[item] += n
            if ok:
                passed[item] += n
            projects.setdefault(item, set()).add(repo)
    ranked = sorted(cases, key=lambda k: (-cases[k], k))
    out = [{key: k, "cases": cases[k], "passed": passed[k], "projects": len(projects[k])} for k in ranked]
    return out if limit is None else out[:limit]


def found_by_rules(scope: Scope, limit: int | None = 15) -> dict[str, Any]:
    """Cases with a stored spec, and per rule name how many cases used it and passed."""
    rows = scope.rows()
    groups = Counter((r.found_by, None, r.status == _PASS) for r in rows if r.found_by)
    rules = [{k: r[k] for k in ("rule", "cases", "passed")} for r in _per_item(groups, limit, "rule")]
    return {"cases": len(rows), "with_spec": sum(1 for r in rows if r.has_spec), "rules": rules}


def package_name(error_msg: str | None) -> str | None:
    """The top-level package of "No module named 'a.b'" (-> "a")."""
    m = _NO_MODULE.search(error_msg or "")
    return m.group(1).split(".")[0] if m else None


def missing_packages(scope: Scope, limit: int | None = 15) -> list[dict[str, Any]]:
    """Import failures by the package they miss: cases and projects affected."""
    cases: Counter = Counter()
    projects: dict[str, set[str]] = {}
    for r in scope.rows():
        if r.status == _IMPORT_FAILED and r.error_type == "ModuleNotFoundError":
            name = package_name(r.error_msg) or "(unknown)"
            cases[name] += 1
            projects.setdefault(name, set()).add(r.repo_id)
    ranked = sorted(cases, key=lambda k: (-cases[k], -len(projects[k]), k))
    out = [{"package": k, "cases": cases[k], "projects": len(projects[k])} for k in ranked]
    return out if limit is None else out[:limit]


def import_error_types(scope: Scope) -> list[dict[str, Any]]:
    """Import failures by exception type (ModuleNotFoundError, SyntaxError, ...)."""
    cases: Counter = Counter()
    projects: dict[str, set[str]] = {}
    for r in scope.rows():
        if r.status == _IMPORT_FAILED:
            etype = r.error_type or "(none)"
            cases[etype] += 1
            projects.setdefault(etype, set()).add(r.repo_id)
    ranked = sorted(cases, key=lambda k: (-cases[k], k))
    return [{"error_type": k, "cases": cases[k], "projects": len(projects[k])} for k in ranked]


def stubbed_packages(scope: Scope, limit: int | None = 15) -> list[dict[str, Any]]:
    """Packages stubbed for cases that did load: what the stubbing saved."""
    groups = Counter((r.stubs, r.repo_id, r.status == _PASS) for r in scope.rows()
                     if r.stubs and r.status != _IMPORT_FAILED)
    return [{k: r[k] for k in ("package", "cases", "projects")} for r in _per_item(groups, limit, "package")]


def runnable_stubs(scope: Scope, limit: int | None = 15) -> dict[str, Any]:
    """Of the cases that ran in eager, how many need no stub, and which stubs the others depend on.

    Why: a stub lets a module load, but a module that really uses the package
    then fails or runs something else; the stubs runnable cases still lean on
    say which packages the crawl environment (`graphcrawl[crawl-env]`) lacks.
    """
    ran = [r for r in scope.rows() if r.status in _RAN]
    groups = Counter((r.stubs, r.repo_id, True) for r in ran if r.stubs)
    stubs = [{k: r[k] for k in ("package", "cases", "projects")} for r in _per_item(groups, limit, "package")]
    no_stub = sum(1 for r in ran if not r.stubs)
    # top-level statements the loader skipped (capture/loading/tolerant.py), counted as stubs are
    skipped = sum(1 for r in ran if r.stubs and '"skipped:' in r.stubs)
    # of those whose result says which stubs they touched once imported (results.stubs_used):
    # a stub only the file's import asked for is no dependence (capture/loading/stub_use.py)
    known = [r for r in ran if r.stubs_used is not None]
    no_used = sum(1 for r in known if r.stubs_used == "[]")
    return {"runnable": len(ran), "no_stub": no_stub, "with_skipped_statements": skipped,
            "no_stub_pct": round(100.0 * no_stub / len(ran), 2) if ran else None, "stubs": stubs,
            "use_known": len(known), "no_stub_used": no_used,
            "no_stub_used_pct": round(100.0 * no_used / len(known), 2) if known else None}


def yield_section(scope: Scope, limit: int | None = 15) -> dict[str, Any]:
    return {"found_by": found_by_rules(scope, limit), "missing_packages": missing_packages(scope, limit),
            "import_error_types": import_error_types(scope), "stubbed_packages": stubbed_packages(scope, limit),
            "runnable_stubs": runnable_stubs(scope, limit)}
