"""The frame-hook overhead section: how much Dynamo's hook costs per call, and how sure we are.

Why a section of its own: "negligible overhead" is the figure the field
quotes, and a median of wall-clock differences on a loaded machine cannot
support it (medians from -38 ms to +317 ms were seen). Cases measured by
backend.timing.paired_overhead carry a ratio to eager and a 95% interval;
the section reports their medians and says how noisy the measurement was:
the median interval half width, and the share of cases whose interval
excludes zero (an overhead actually resolved).
"""
from __future__ import annotations

from typing import Any

from reports.scope import Scope
from reports.stats import quantile


def hook_overhead_section(scope: Scope) -> dict[str, Any]:
    where, params = scope.base_where()
    ratio, ci, n_col = scope.col("hook_ratio"), scope.col("hook_overhead_ci_us"), scope.col("hook_samples")
    rows = scope.query(f"select x.hook_overhead_us, {ratio}, {ci}, {n_col}, x.eager_ms from results x where {where} "
                       "and x.hook_overhead_us is not null", params)
    paired = [r for r in rows if r[1] is not None and r[2] is not None]
    legacy = len(rows) - len(paired)
    out: dict[str, Any] = {"cases": len(paired), "legacy_cases": legacy}
    if not paired:
        return out
    over = sorted(r[0] for r in paired)
    ratios = sorted(r[1] for r in paired)
    half = sorted(r[2] for r in paired)
    eager_us = sorted(r[4] * 1000 for r in paired if r[4] is not None)
    resolved = sum(1 for r in paired if abs(r[0]) > r[2])
    out.update(
        overhead_us_median=quantile(over, 0.5), overhead_us_p10=quantile(over, 0.1),
        overhead_us_p90=quantile(over, 0.9), ratio_median=quantile(ratios, 0.5),
        ratio_p10=quantile(ratios, 0.1), ratio_p90=quantile(ratios, 0.9),
        ci_half_us_median=quantile(half, 0.5), ci_half_us_p90=quantile(half, 0.9),
        eager_us_median=quantile(eager_us, 0.5) if eager_us else None,
        resolved=resolved, resolved_pct=round(100 * resolved / len(paired), 1),
        samples_median=quantile(sorted(r[3] or 0 for r in paired), 0.5), confidence=0.95)
    return out
