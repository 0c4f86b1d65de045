"""One self-contained HTML page: tables rendered here, plots drawn by inline JS as SVG.

Why this split: the numbers must be readable even where scripts are blocked
(tables are plain HTML), and the plots need no library: the page embeds the
report's JSON and a few hundred lines of our own script (reports/html_assets).
Nothing is fetched: no src= or href= points anywhere, except the links into a
running `graphcrawl serve` that a page made with --serve-url carries.
"""
from __future__ import annotations

import datetime as _dt
import html
import json
from typing import Any

from reports import html_assets
from reports.projects import COLUMNS as PROJECT_COLUMNS
from reports.tables import PROJECT_HEADERS, Table, history_tables, num, pct, report_tables, run_title


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _json_for_script(data: Any) -> str:
    """JSON that cannot close the <script> element it sits in (NaN/inf become null)."""
    try:
        text = json.dumps(data, separators=(",", ":"), allow_nan=False, default=str)
    except ValueError:  # rare: walk the data only when there is a NaN to replace
        text = json.dumps(_clean(data), separators=(",", ":"), allow_nan=False, default=str)
    return (text
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _clean(value: Any) -> Any:
    """NaN/inf are not JSON: None instead."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def table_html(table: Table) -> str:
    head = "".join(f'<th class="{"n" if i in table.numeric else ""}">{_e(c)}</th>'
                   for i, c in enumerate(table.columns))
    body = "".join("<tr>" + "".join(f'<td class="{"n" if i in table.numeric else ""}">{_e(c)}</td>'
                                    for i, c in enumerate(row)) + "</tr>" for row in table.rows)
    caption = f'<div class="note">{_e(table.caption)}</div>' if table.caption else ""
    return (f'<div class="panel"><h3>{_e(table.title)}</h3><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>{caption}</div>")


def _cards(data: dict[str, Any]) -> str:
    out = []
    for r in data["rates"]:
        out.append(
            f'<div class="card" id="card-{_e(r["name"])}"><div class="k">{_e(r["label"])}</div>'
            f'<div class="v">{_e(pct(r["pct_of_runnable"]))}</div>'
            f'<div class="s">{_e(num(r["count"]))} of {_e(num(r["runnable"]))} runnable · '
            f'{_e(pct(r["pct_of_all"]))} of all {_e(num(r["total"]))}</div></div>')
    return '<div class="cards">' + "".join(out) + "</div>"


def _chart(id_: str, title: str, note: str = "") -> str:
    note_html = f'<div class="note">{_e(note)}</div>' if note else ""
    return f'<div class="panel"><h3>{_e(title)}</h3><div id="{id_}-host"></div>{note_html}</div>'


def _check_sections(data: dict[str, Any], by_prefix: Any) -> list[str]:
    """Where the time goes (a table), and the training / dynamic-shape plots where the run has them."""
    parts = ["<h2>Where the time goes</h2>", "".join(table_html(t) for t in by_prefix("Where the time goes"))]
    plots = []
    if data.get("recompiles") or data.get("training") or data.get("export"):
        if len(data.get("checks") or []) > 1:
            plots.append(_chart("checks-chart", "Pass rate by check (inference, training, dynamic shapes, export)"))
    if data.get("export"):
        plots += [_chart("export-funnel-chart", "Export funnel: each door's pass rate over runnable cases",
                         "non-strict and strict export, serialization, Dim.AUTO batch, AOTInductor"),
                  _chart("export-classes-chart", "Why export fails: failure classes (non-strict)")]
    if data.get("recompiles"):
        plots += [_chart("recompiles-chart", "Recompiles per case at new input sizes",
                         "torch.compile dynamic=None (automatic dynamism)"),
                  _chart("recompile-reasons-chart", "Top recompile reasons (torch's guard failures)")]
    if data.get("training"):
        plots.append(_chart("backward-graphs-chart", "Compiled backward graphs per case"))
    if plots:
        parts += ["<h2>Training, dynamic shapes and export</h2>", '<div class="grid2">', *plots, "</div>"]
    parts += ["".join(table_html(t) for t in by_prefix(p)) for p in ("Checks", "Dynamic shapes", "Training", "Export")]
    return parts


def _history_section(data: dict[str, Any]) -> list[str]:
    """Every run of the database by check (report --history), with a plot of the rates over runs."""
    checks = data.get("history") or []
    if not checks:
        return []
    parts = ['<h2 id="history">History: every run of the database</h2>']
    if any(len(h["runs"]) > 1 for h in checks):
        parts.append('<div style="max-width:760px">' +
                     _chart("history-chart", "Pass and capture rates over runs, by check",
                            "over the cases every run of the check has; pass and capture of those that ran in eager")
                     + "</div>")
    parts.append("".join(table_html(t) for t in history_tables(checks)))
    return parts


def _served_section(data: dict[str, Any]) -> list[str]:
    """Links into `graphcrawl serve` (only when the page was made with --serve-url)."""
    links = data.get("served") or []
    if not links:
        return []
    items = "".join(f'<li><a href="{_e(url)}">{_e(label)}</a></li>' for label, url in links)
    return ['<h2>Query it live</h2>', f'<div class="panel"><ul id="served-links">{items}</ul>'
            '<div class="note">views of this database served by <code>graphcrawl serve</code></div></div>']


def render_html(data: dict[str, Any], title: str = "graphcrawl report") -> str:
    """The page for `Report.as_dict()`."""
    tables = {t.title: t for t in report_tables(data)}
    by_prefix = lambda p: [t for name, t in tables.items() if name.startswith(p)]  # noqa: E731
    payload = dict(data, project_columns=[{"key": c, "label": PROJECT_HEADERS[c]} for c in PROJECT_COLUMNS])
    d = data["distributions"]
    generated = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)} — {_e(data['run'].get('id'))}</title>",
        f"<style>{html_assets.CSS}</style></head><body>",
        '<svg id="svg-ns" width="0" height="0" style="position:absolute" aria-hidden="true"></svg>',
        f"<header><h1>{_e(title)}</h1><div class=\"meta\">{_e(run_title(data['run'], data['project']))}"
        f" · {data['cases']:,} cases · generated {generated}</div></header><main>",
        *_served_section(data),
        "<h2>Success rates</h2>", _cards(data),
        '<div class="grid2" style="margin-top:16px">',
        _chart("funnel-chart", "Case funnel: where each case stopped",
               "timeout/crash/oom are split by the stage they happened in"),
        _chart("rates-chart", "Rates over all cases (and over those that run in eager)"),
        "</div>",
        "".join(table_html(t) for t in by_prefix("Success rates")),
        "<h2>Failures: compiler vs harness</h2>",
        "".join(table_html(t) for t in by_prefix("Failures: compiler vs harness")),
        "<h2>Compile time and speedup</h2>", '<div class="grid2">',
        _chart("compile-hist", "Backend compile time",
               f"median {num(d['compile_s']['median'])} s · p90 {num(d['compile_s']['p90'])} s · "
               f"n = {num(d['compile_s']['n'])}"),
        _chart("speedup-hist", "Speedup of the compiled module over eager",
               f"median {num(d['speedup']['median'])}× · geomean {num(d['speedup']['geomean'])}× · "
               f"n = {num(d['speedup']['n'])}"),
        "</div>",
        "".join(table_html(t) for t in by_prefix("Distributions")),
        "".join(table_html(t) for t in by_prefix("Frame-hook overhead")),
        "<h2>Graph breaks</h2>", '<div class="grid2">',
        _chart("break-reasons-chart", "Top graph-break reasons (cases affected)"),
        _chart("breaks-per-module-chart", "Graph breaks per captured module"),
        "</div>",
        "".join(table_html(t) for t in by_prefix("Top graph-break ids")),
        *_check_sections(data, by_prefix),
        *_history_section(data),
        "<h2>Funnel tables</h2>", '<div class="grid2">',
        "".join(table_html(t) for t in by_prefix("Case funnel")),
        "".join(table_html(t) for t in by_prefix("Repo")),
        "</div>",
        "<h2>Yield</h2>", '<div class="grid2">', "".join(table_html(t) for t in by_prefix("Yield")), "</div>",
        "<h2>Per project</h2>",
        '<input class="filter" id="projects-filter" placeholder="filter projects…" aria-label="filter projects">',
        '<div class="tablewrap"><table id="projects" class="sortable"></table></div>',
        '<div class="note" id="projects-note"></div>',
        "<noscript><p>The per-project table and the plots need JavaScript; the tables above do not.</p></noscript>",
        "<footer>graphcrawl · self-contained page: no network access needed.</footer></main>",
        f'<script type="application/json" id="report-data">{_json_for_script(payload)}</script>',
        f"<script>{html_assets.JS}</script>",
        "</body></html>",
    ]
    return "\n".join(parts)
