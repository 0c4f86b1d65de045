"""Render tables as GitHub-flavoured markdown (for issues, PRs and CI summaries)."""
from __future__ import annotations

from typing import Iterable

from reports.tables import Table


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_md(table: Table, level: int = 2) -> str:
    lines = [f"{'#' * level} {table.title}", ""]
    if table.caption:
        lines += [f"_{_cell(table.caption)}_", ""]
    lines.append("| " + " | ".join(_cell(c) or " " for c in table.columns) + " |")
    lines.append("|" + "|".join("---:" if i in table.numeric else "---" for i in range(len(table.columns))) + "|")
    for row in table.rows:
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def to_markdown(tables: Iterable[Table], title: str | None = None) -> str:
    parts = [f"# {title}\n"] if title else []
    parts += [table_md(t) for t in tables]
    return "\n".join(parts)
