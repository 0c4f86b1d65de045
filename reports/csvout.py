"""CSV output: raw numbers (not formatted strings) for spreadsheets and pandas.

Why a long ("tidy") layout for the run report: its sections have different
columns; one row per number with fixed columns (section, name, detail, count,
total, percent, value) loads into any tool without guessing where a section
starts. Row-shaped results (per project, comparison, triage) are plain tables.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Sequence

REPORT_COLUMNS = ["section", "name", "detail", "count", "total", "percent", "value"]


def write_rows(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _plain(row.get(k)) for k in columns})
    return buf.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return "" if value is None else value


def report_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """`Report.as_dict()` as tidy rows."""
    rows: list[dict[str, Any]] = []
    total = data["cases"]
    for r in data["repo_funnel"]:
        rows.append({"section": "repo_funnel", "name": r["status"], "count": r["count"],
                     "total": sum(x["count"] for x in data["repo_funnel"]), "percent": r["percent"]})
    for r in data["case_funnel"]:
        rows.append({"section": "case_funnel", "name": r["status"], "detail": r["stage"], "count": r["count"],
                     "total": total, "percent": r["percent"]})
    rows.append({"section": "pending", "name": "no_result_yet", "count": data["pending"]})
    for r in data["rates"]:
        rows.append({"section": "rate_of_runnable", "name": r["name"], "count": r["count"],
                     "total": r["runnable"], "percent": r["pct_of_runnable"]})
        rows.append({"section": "rate_of_all", "name": r["name"], "count": r["count"],
                     "total": r["total"], "percent": r["pct_of_all"]})
    for name, d in data["distributions"].items():
        for stat in ("n", "min", "median", "p90", "max", "mean", "geomean"):
            rows.append({"section": "distribution", "name": name, "detail": stat, "value": d[stat]})
    for b in data["break_reasons"]:
        rows.append({"section": "break_reason", "name": b["reason"], "detail": b["ids"], "count": b["cases"],
                     "value": b["breaks"]})
    for b in data["break_ids"]:
        rows.append({"section": "break_id", "name": b["id"], "count": b["cases"], "value": b["breaks"]})
    y = data["yield"]
    for r in y["found_by"]["rules"]:
        rows.append({"section": "found_by", "name": r["rule"], "count": r["cases"],
                     "total": y["found_by"]["with_spec"], "value": r["passed"]})
    for key in ("missing_packages", "stubbed_packages"):
        for p in y[key]:
            rows.append({"section": key, "name": p["package"], "count": p["cases"], "value": p["projects"]})
    for p in y["import_error_types"]:
        rows.append({"section": "import_error_type", "name": p["error_type"], "count": p["cases"],
                     "value": p["projects"]})
    return rows


def report_csv(data: dict[str, Any]) -> str:
    return write_rows(REPORT_COLUMNS, report_rows(data))
