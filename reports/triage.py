"""Failure clusters: every non-pass result grouped by its signature, largest first.

Why clusters: 7,000 projects fail in a few hundred distinct ways; a compiler
developer fixes bugs, not cases. Each cluster says how many cases and how many
projects one bug hits, with examples chosen from different projects (a bug in
one project's odd code is less urgent than the same bug in forty projects).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from db.status import CaseStatus, FailureKind
from reports.scope import ReportError, Scope
from reports.signature import MAX_MSG, Signature, signature

PASS = CaseStatus.PASS.value
EXAMPLES = 3
KINDS = ("compiler", "flaky", "harness", "all")
# compiler failures first (confirmed by a rerun), then the flaky ones (not repeated), then harness
_KIND_ORDER = {FailureKind.COMPILER.value: 0, FailureKind.FLAKY.value: 1, FailureKind.HARNESS.value: 2}


@dataclass
class Cluster:
    id: str
    signature: Signature
    count: int
    projects: int
    examples: list[str]
    example_msg: str | None
    case_ids: list[str] = field(default_factory=list, repr=False)

    @property
    def kind(self) -> str | None:
        return self.signature.kind

    def as_dict(self, with_cases: bool = False) -> dict[str, Any]:
        d = {"id": self.id, "count": self.count, "projects": self.projects, **self.signature.as_dict(),
             "examples": self.examples, "example_msg": self.example_msg}
        if with_cases:
            d["case_ids"] = self.case_ids
        return d


def _examples(members: list[tuple[str, str]], n: int = EXAMPLES) -> list[str]:
    """`n` case ids, first from distinct projects, deterministic (sorted)."""
    members = sorted(members)
    picked: list[str] = []
    seen: set[str] = set()
    for case_id, repo in members:
        if repo not in seen:
            picked.append(case_id)
            seen.add(repo)
        if len(picked) == n:
            return picked
    for case_id, _ in members:
        if case_id not in picked:
            picked.append(case_id)
        if len(picked) == n:
            break
    return picked


def check_filters(kind: str | None = None, statuses: list[str] | None = None,
                  stages: list[str] | None = None) -> None:
    """A clear error for a filter value no result can have."""
    from db.status import CaseStatus as S, Stage
    if kind not in (None, *KINDS):
        raise ReportError(f"--kind takes compiler, flaky, harness or all, not {kind!r}")
    bad = [s for s in statuses or [] if s not in {x.value for x in S}]
    if bad:
        raise ReportError(f"unknown status {bad[0]!r}; one of {', '.join(x.value for x in S)}")
    bad = [s for s in stages or [] if s not in {x.value for x in Stage}]
    if bad:
        raise ReportError(f"unknown stage {bad[0]!r}; one of {', '.join(x.value for x in Stage)}")


def clusters(scope: Scope, kind: str | None = None, statuses: list[str] | None = None,
             stages: list[str] | None = None) -> list[Cluster]:
    """The scope's failure clusters: compiler failures first, then flaky ones (a compiler
    failure its rerun did not repeat), then harness failures, each largest first (ties:
    more projects, then id).

    `kind` ('compiler', 'flaky', 'harness', None or 'all'), `statuses` and `stages` keep only
    the clusters that match (db.status.failure_kind decides the kind).
    """
    check_filters(kind, statuses, stages)
    where, params = scope.base_where()
    if statuses:
        where += f" and x.status in ({','.join('?' * len(statuses))})"
        params += list(statuses)
    if stages:
        where += f" and x.stage in ({','.join('?' * len(stages))})"
        params += list(stages)
    rows = scope.conn.execute(
        f"select x.case_id, x.repo_id, x.status, x.stage, x.error_type, substr(x.error_msg, 1, {MAX_MSG}), "
        f"x.error_frame, x.break_ids, {scope.col('reason')}, {scope.col('export_class')}, {scope.col('flaky')} from results x "
        f"where {where} and x.status != '{PASS}' order by x.case_id", params).fetchall()
    groups: dict[Signature, list[tuple[str, str, str | None]]] = {}
    for case_id, repo, status, stage, etype, msg, frame, bids, reason, export_class, flaky in rows:
        sig = signature(status, stage, etype, msg, frame, bids, reason, export_class, flaky)
        if kind not in (None, "all") and sig.kind != kind:
            continue
        groups.setdefault(sig, []).append((case_id, repo, msg))
    out = []
    for sig, members in groups.items():
        out.append(Cluster(
            id=sig.cluster_id, signature=sig, count=len(members),
            projects=len({repo for _, repo, _ in members}),
            examples=_examples([(c, r) for c, r, _ in members]),
            example_msg=members[0][2], case_ids=[c for c, _, _ in members]))
    out.sort(key=lambda c: (_KIND_ORDER.get(c.kind or "", 2), -c.count, -c.projects, c.id))
    return out


def find_cluster(scope: Scope, cluster: str) -> Cluster:
    """The cluster whose id is `cluster` or starts with it (unambiguously)."""
    key = cluster.strip().lower()
    if not key:
        raise ReportError("give a cluster id (see `graphcrawl triage`)")
    found = [c for c in clusters(scope) if c.id.startswith(key)]
    if not found:
        raise ReportError(f"no failure cluster {cluster!r} in run {scope.run_id}"
                          + (f" for {scope.project}" if scope.project else ""))
    if len(found) > 1 and found[0].id != key:
        raise ReportError(f"cluster id {cluster!r} is ambiguous: {', '.join(c.id for c in found[:10])}")
    return found[0]


def cluster_cases(scope: Scope, cluster: Cluster, limit: int | None = None) -> list[dict[str, Any]]:
    """The cluster's results with full errors and tracebacks, and where each module lives."""
    ids = cluster.case_ids if limit is None else cluster.case_ids[:limit]
    out: list[dict[str, Any]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        cur = scope.conn.execute(
            "select x.case_id, x.repo_id, x.status, x.stage, x.error_type, x.error_msg, x.error_frame, "
            "x.traceback, x.signal, x.exit_code, x.break_reasons, x.break_ids, "
            f"{scope.col('flaky')} as flaky, {scope.col('rerun')} as rerun, "
            f"{scope.col('reason')} as reason, {scope.col('trace_path')} as trace_path, "
            f"{scope.col('export_class')} as export_class, {scope.col('export_strict')} as export_strict, "
            f"{scope.col('draft_report')} as draft_report, m.path, m.qualname, m.sha "
            f"from results x left join modules m on m.id = x.module_id "
            f"where x.run_id = ? and x.case_id in ({marks}) order by x.case_id", [scope.run_id, *chunk])
        names = [c[0] for c in cur.description]
        out += [dict(zip(names, r)) for r in cur.fetchall()]
    return out
