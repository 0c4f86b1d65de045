"""Assemble every section of a run report into one plain-data object.

Why one object: the terminal, markdown, CSV, JSON and HTML renderers all show
the same numbers; computing them once and rendering many ways keeps the
formats from drifting apart and lets tests assert on data, not on text.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from reports import breaks, checks, distributions, flaky, funnel, overhead, projects, rates, yields
from reports.scope import Scope
from reports.stats import Dist, Histogram

RUN_FIELDS = ("id", "torch", "triton", "python", "device", "device_name", "backend", "mode", "fullgraph",
              "dynamic", "host", "started_at", "ended_at", "check", "packages")


@dataclass
class Report:
    run: dict[str, Any]
    project: str | None
    repo_funnel: list[funnel.FunnelRow]
    case_funnel: list[funnel.FunnelRow]
    case_reasons: list[dict[str, Any]]
    pending: int
    rates: list[rates.Rate]
    distributions: dict[str, Dist]
    histograms: dict[str, Histogram]
    break_buckets: list[dict[str, Any]]
    break_reasons: list[breaks.BreakReason]
    break_ids: list[dict[str, Any]]
    yields: dict[str, Any]
    failure_split: list[dict[str, Any]] = field(default_factory=list)
    repos_seen_not_selected: int = 0
    hook_overhead: dict[str, Any] = field(default_factory=dict)
    repo_selection_recorded: bool = False
    projects: list[dict[str, Any]] = field(default_factory=list)
    time_shares: dict[str, Any] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    recompiles: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    confirmation: dict[str, Any] | None = None
    compile_phases: dict[str, Any] | None = None
    export: dict[str, Any] | None = None

    @property
    def total(self) -> int:
        return sum(r.count for r in self.case_funnel)

    def rate(self, name: str) -> rates.Rate:
        return next(r for r in self.rates if r.name == name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data (the `--format json` output)."""
        return {
            "run": self.run, "project": self.project, "cases": self.total, "pending": self.pending,
            "repo_funnel": [r.as_dict() for r in self.repo_funnel],
            "case_funnel": [r.as_dict() for r in self.case_funnel],
            "failure_split": self.failure_split,
            "repos_seen_not_selected": self.repos_seen_not_selected,
            "hook_overhead": self.hook_overhead,
            "repo_selection_recorded": self.repo_selection_recorded,
            "case_reasons": self.case_reasons,
            "rates": [r.as_dict() for r in self.rates],
            "distributions": {k: {"label": distributions.METRICS[k][0], "unit": distributions.METRICS[k][1],
                                  **v.as_dict()} for k, v in self.distributions.items()},
            "histograms": {k: v.as_dict() for k, v in self.histograms.items()},
            "graph_break_buckets": self.break_buckets,
            "break_reasons": [b.as_dict() for b in self.break_reasons],
            "break_ids": self.break_ids,
            "yield": self.yields,
            "projects": self.projects,
            "time_shares": self.time_shares, "checks": self.checks,
            "recompiles": self.recompiles, "training": self.training, "confirmation": self.confirmation,
            "compile_phases": self.compile_phases, "export": self.export,
        }


def run_info(scope: Scope) -> dict[str, Any]:
    run = scope.run()
    info = {k: run.get(k) for k in RUN_FIELDS}
    try:
        info["config"] = json.loads(run["config"]) if run.get("config") else None
    except ValueError:
        info["config"] = run.get("config")
    return info


def build_report(scope: Scope, top: int | None = 15, with_projects: bool = True) -> Report:
    """Every section of the report for one scope (run, optionally one project)."""
    dists, hists = distributions.summarize(scope)
    return Report(
        run=run_info(scope), project=scope.project,
        repo_funnel=funnel.repo_funnel(scope), case_funnel=funnel.case_funnel(scope),
        failure_split=funnel.failure_split(scope), repos_seen_not_selected=funnel.seen_not_selected(scope),
        hook_overhead=overhead.hook_overhead_section(scope),
        repo_selection_recorded=funnel.selection_recorded(scope),
        case_reasons=funnel.case_reasons(scope),
        pending=funnel.pending_cases(scope), rates=rates.rates(scope),
        distributions=dists, histograms=hists,
        break_buckets=distributions.break_count_buckets(scope),
        break_reasons=breaks.top_break_reasons(scope, top), break_ids=breaks.top_break_ids(scope, top),
        yields=yields.yield_section(scope, top),
        projects=projects.project_rows(scope) if with_projects else [],
        time_shares=checks.time_shares(scope), checks=checks.check_rates(scope),
        recompiles=checks.recompiles(scope, top), training=checks.training(scope),
        confirmation=flaky.confirmation(scope, top), compile_phases=checks.compile_phases(scope),
        export=checks.export_section(scope, top),
    )
